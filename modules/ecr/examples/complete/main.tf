# The image repository with every input set.

provider "aws" {
  region = var.region
}

locals {
  tags = {
    Project = "exif-stripper"
    Example = "ecr/complete"
  }
}

module "ecr" {
  source = "../.."

  name_prefix           = var.name_prefix
  image_retention_count = 20
  kms_key_arn           = var.kms_key_arn
  force_delete          = true # an example: destroy takes the images along
  tags                  = local.tags
}
