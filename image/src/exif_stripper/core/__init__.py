"""The sanitizer: formats, parsing, stripping, verifying and turning, with no AWS imports.

`sanitize.sanitize_stream` is the entry; `inspection.inspect_stream` says what it would
remove. Everything here runs with Pillow and zlib-ng alone (`pip install exif-stripper`);
import-linter keeps boto3, botocore, Powertools, tqdm and pyarrow out of it.
"""
