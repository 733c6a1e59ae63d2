# The ecr unit, defined once for every environment: live/<env>/ecr/terragrunt.hcl includes
# this file and root.hcl, nothing else. Terragrunt evaluates it for the including unit, so
# find_in_parent_folders() finds that environment's env.hcl and get_terragrunt_dir() is
# live/<env>/ecr; what differs between environments comes from env.hcl alone.
#
# The image repository of the function (modules/ecr). Its own unit because the image must
# exist before the function can: on a new environment apply this unit first, push the image,
# then apply the rest (modules/ecr/README.md).

locals {
  env = read_terragrunt_config(find_in_parent_folders("env.hcl")).locals
}

terraform {
  source = "${dirname(find_in_parent_folders("root.hcl"))}/../modules//ecr"
}

inputs = {
  name_prefix           = local.env.ecr_name_prefix
  image_retention_count = local.env.ecr_image_retention_count
  force_delete          = local.env.disposable
}
