locals {
  # arn:<partition>:ecr:<region>:<account>:repository/<name>. Taking partition, region and
  # account from the repository's own ARN avoids data sources whose attributes differ
  # between provider 5.x and 6.x (data.aws_region.name became .region).
  arn_parts = split(":", aws_ecr_repository.this.arn)
}

################################################################################
# Repository
################################################################################

resource "aws_ecr_repository" "this" {
  #checkov:skip=CKV_AWS_136:AES-256 encryption at rest is ECR's default and always on; a customer KMS key is one input away (kms_key_arn).
  name                 = "${var.name_prefix}-processor"
  image_tag_mutability = "IMMUTABLE"
  force_delete         = var.force_delete

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = var.kms_key_arn != null ? "KMS" : "AES256"
    kms_key         = var.kms_key_arn
  }

  tags = var.tags
}

################################################################################
# Lifecycle and access
################################################################################

resource "aws_ecr_lifecycle_policy" "this" {
  repository = aws_ecr_repository.this.name
  policy = templatefile("${path.module}/policies/lifecycle-policy.json.tftpl", {
    image_retention_count = var.image_retention_count
  })
}

# Lambda pulls the image with its service principal. Granting that here keeps the policy
# in Terraform's hands; otherwise CreateFunction would add the statement itself and the
# next plan would show drift.
resource "aws_ecr_repository_policy" "this" {
  repository = aws_ecr_repository.this.name
  policy = templatefile("${path.module}/policies/lambda-pull.json.tftpl", {
    partition  = local.arn_parts[1]
    region     = local.arn_parts[3]
    account_id = local.arn_parts[4]
  })
}
