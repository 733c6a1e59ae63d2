# The image repository of the function (modules/ecr). Its own unit because the image must
# exist before the function can: on a new environment apply this unit first, push the image,
# then apply the rest (modules/ecr/README.md).

include "root" {
  path = find_in_parent_folders("root.hcl")
}

locals {
  env = read_terragrunt_config(find_in_parent_folders("env.hcl")).locals
}

terraform {
  source = "../../../modules//ecr"
}

inputs = {
  name_prefix           = local.env.ecr_name_prefix
  image_retention_count = local.env.ecr_image_retention_count
  force_delete          = local.env.disposable
}
