# The exif-lambda unit of this environment: its definition is live/_units/exif-lambda.hcl, its values the
# environment's env.hcl. The folder holds the unit's provider lock and names its state key.

include "root" {
  path = find_in_parent_folders("root.hcl")
}

include "unit" {
  path = "${dirname(find_in_parent_folders("root.hcl"))}/_units/exif-lambda.hcl"
}
