"""The generated Terraform CLI configuration: the local provider mirror when there is one,
the registry otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.terraform.cli_config import (
    CACHE_ENV,
    MIRROR_ENV,
    MirrorError,
    default_mirror_candidates,
    find_provider_mirror,
    mirrored_providers,
    render_cli_config,
    terraform_platform,
    write_cli_config,
)

PLATFORM = "linux_amd64"
AWS = "registry.terraform.io/hashicorp/aws"


def unpacked_mirror(root: Path, platform: str = PLATFORM, version: str = "5.100.0") -> Path:
    """A mirror in Terraform's unpacked layout holding the aws provider."""
    package = root / AWS / version / platform
    package.mkdir(parents=True)
    (package / f"terraform-provider-aws_v{version}_x5").write_bytes(b"")
    return root


def test_unpacked_mirror_lists_its_providers(tmp_path: Path) -> None:
    assert mirrored_providers(unpacked_mirror(tmp_path), PLATFORM) == [AWS]


def test_packed_mirror_lists_its_providers(tmp_path: Path) -> None:
    (tmp_path / AWS).mkdir(parents=True)
    (tmp_path / AWS / f"terraform-provider-aws_5.100.0_{PLATFORM}.zip").write_bytes(b"")
    assert mirrored_providers(tmp_path, PLATFORM) == [AWS]


def test_mirror_for_another_platform_does_not_count(tmp_path: Path) -> None:
    mirror = unpacked_mirror(tmp_path, platform="darwin_arm64")
    assert find_provider_mirror({}, [mirror], PLATFORM) is None


def test_first_candidate_holding_the_aws_provider_wins(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    mirror = unpacked_mirror(tmp_path / "mirror")
    missing = tmp_path / "does-not-exist"
    assert find_provider_mirror({}, [missing, empty, mirror], PLATFORM) == mirror


def test_mirror_named_in_the_environment_wins_over_candidates(tmp_path: Path) -> None:
    named = unpacked_mirror(tmp_path / "named")
    candidate = unpacked_mirror(tmp_path / "candidate")
    assert find_provider_mirror({MIRROR_ENV: str(named)}, [candidate], PLATFORM) == named


def test_mirror_named_in_the_environment_without_the_provider_is_an_error(
    tmp_path: Path,
) -> None:
    with pytest.raises(MirrorError, match=MIRROR_ENV):
        find_provider_mirror({MIRROR_ENV: str(tmp_path)}, [], PLATFORM)


def test_config_with_a_mirror_installs_its_providers_from_it_and_the_rest_directly(
    tmp_path: Path,
) -> None:
    text = render_cli_config(tmp_path / "mirror", [AWS], tmp_path / "cache")
    assert "filesystem_mirror {" in text
    assert f'path    = "{(tmp_path / "mirror").as_posix()}"' in text
    assert f'include = ["{AWS}"]' in text
    assert f'exclude = ["{AWS}"]' in text
    assert f'plugin_cache_dir = "{(tmp_path / "cache").as_posix()}"' in text


def test_cache_serves_fresh_copies_without_a_lock_file(tmp_path: Path) -> None:
    text = render_cli_config(None, [], tmp_path / "cache")
    assert "plugin_cache_may_break_dependency_lock_file = true" in text


def test_config_without_a_mirror_uses_the_registry(tmp_path: Path) -> None:
    text = render_cli_config(None, [], tmp_path / "cache")
    assert "filesystem_mirror" not in text
    assert "direct {}" in text
    assert f'plugin_cache_dir = "{(tmp_path / "cache").as_posix()}"' in text


def test_paths_are_quoted_for_hcl(tmp_path: Path) -> None:
    text = render_cli_config(None, [], Path('/odd "dir"\\cache'))
    assert 'plugin_cache_dir = "/odd \\"dir\\"\\\\cache"' in text


def test_usual_places_include_the_users_terraform_plugin_dirs(tmp_path: Path) -> None:
    candidates = default_mirror_candidates(tmp_path)
    assert tmp_path / ".terraform.d" / "plugins" in candidates
    assert tmp_path / ".local" / "share" / "terraform" / "plugins" in candidates


def test_written_config_points_at_the_mirror_found(tmp_path: Path) -> None:
    mirror = unpacked_mirror(tmp_path / "mirror", platform=terraform_platform())
    config = write_cli_config(
        tmp_path / "cli.tfrc",
        environ={"XDG_CACHE_HOME": str(tmp_path / "xdg")},
        home=tmp_path,
        candidates=[mirror],
    )
    text = config.read_text()
    assert f'path    = "{mirror.as_posix()}"' in text
    assert (tmp_path / "xdg" / "exif-stripper" / "terraform-plugins").is_dir()


def test_written_config_falls_back_to_the_registry_without_a_mirror(tmp_path: Path) -> None:
    config = write_cli_config(
        tmp_path / "cli.tfrc",
        environ={CACHE_ENV: str(tmp_path / "cache")},
        home=tmp_path,
        candidates=[],
    )
    text = config.read_text()
    assert "filesystem_mirror" not in text
    assert "direct {}" in text
    assert f'plugin_cache_dir = "{(tmp_path / "cache").as_posix()}"' in text


def test_write_leaves_an_unchanged_file_untouched(tmp_path: Path) -> None:
    env = {CACHE_ENV: str(tmp_path / "cache")}
    path = write_cli_config(tmp_path / "cli.tfrc", environ=env, home=tmp_path, candidates=[])
    before = path.stat().st_mtime_ns
    write_cli_config(path, environ=env, home=tmp_path, candidates=[])
    assert path.stat().st_mtime_ns == before
