"""Packaging: deterministic code archives, the committed layer pins and the offline layer build."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from infra.bytecode import MAGIC, UNCHECKED_HASH_FLAGS, pyc_header, pyc_path
from infra.packaging import (
    LAYER_REQUIREMENTS_FILE,
    Archive,
    LayerSpec,
    PackagingError,
    build_code_archive,
    build_code_archives,
    build_layer,
    export_layer_requirements,
    filter_layer_requirements,
    read_layer_requirements,
    write_layer_requirements,
)
from infra.stack_files import PROJECT_ROOT
from tests.infra.bytecode_compilers import native_compiler

OLD = 1_000_000_000
NEW = 1_700_000_000


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _source_tree(root: Path) -> Path:
    _write(root / "workers/__init__.py", "")
    _write(root / "workers/shared/__init__.py", "")
    _write(root / "workers/shared/x.py", "VALUE = 41\n")
    _write(root / "workers/foo/__init__.py", "")
    _write(
        root / "workers/foo/handler.py",
        "from workers.shared.x import VALUE\n\n\ndef lambda_handler(event, context):\n    return VALUE + 1\n",
    )
    _write(root / "workers/foo/__pycache__/handler.cpython-311.pyc", "stale bytecode")
    _write(root / "workers/foo/logic.pyc", "stray bytecode")
    _write(root / "workers/foo/tests/test_handler.py", "def test(): ...\n")
    _write(root / "workers/foo/.env", "SECRET=1\n")
    _write(root / "workers/shared/.cache/blob", "hidden folder")
    _write(root / "workers/bar/handler.py", "other worker\n")
    return root


def _entries(archive: Archive) -> list[str]:
    with zipfile.ZipFile(archive.path) as opened:
        return opened.namelist()


@pytest.fixture
def nothing_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine with no CPython 3.12 of any kind (no DMD_PYTHON312, PATH, pyenv nor Pyodide)."""
    monkeypatch.delenv("DMD_PYTHON312", raising=False)
    monkeypatch.delenv("DMD_BYTECODE", raising=False)
    (tmp_path / "empty-bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "no-pyenv"))
    monkeypatch.setattr("infra.bytecode.PYODIDE_INSTALL", tmp_path / "no-pyodide")


def _pycs(archive: Archive) -> dict[str, bytes]:
    with zipfile.ZipFile(archive.path) as opened:
        return {name: opened.read(name) for name in opened.namelist() if name.endswith(".pyc")}


def _wheel(directory: Path, name: str = "tinydep", version: str = "1.0") -> Path:
    """Write a minimal pure-python wheel by hand, so the layer tests need no index."""
    directory.mkdir(parents=True, exist_ok=True)
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": "ANSWER = 42\n",
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist_info}/WHEEL": "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        # A console script makes pip write bin/ and a RECORD line with a host-specific shebang hash.
        f"{dist_info}/entry_points.txt": f"[console_scripts]\n{name} = {name}:main\n",
    }
    record = "".join(f"{path},,\n" for path in files) + f"{dist_info}/RECORD,,\n"
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as opened:
        for path, text in {**files, f"{dist_info}/RECORD": record}.items():
            opened.writestr(path, text)
    return wheel


# ---------------------------------------------------------------------------------------------
# Code archives
# ---------------------------------------------------------------------------------------------


def test_code_archive_holds_the_package_init_shared_and_the_worker_only(tmp_path: Path) -> None:
    # Given a source tree with bytecode, tests, hidden files and a second worker
    root = _source_tree(tmp_path / "src")

    # When the foo worker is packaged
    archive = build_code_archive("foo", source_root=root, out_dir=tmp_path / "out", compiler=None)

    # Then only the package init, shared code and foo's sources are in it, sorted, without folders
    assert _entries(archive) == [
        "workers/__init__.py",
        "workers/foo/__init__.py",
        "workers/foo/handler.py",
        "workers/shared/__init__.py",
        "workers/shared/x.py",
    ]
    assert archive.path == tmp_path / "out" / "foo.zip"


def test_code_archive_is_byte_identical_whatever_the_mtimes_and_permissions(tmp_path: Path) -> None:
    # Given the same sources twice, with different mtimes and file modes
    first = _source_tree(tmp_path / "first")
    second = _source_tree(tmp_path / "second")
    for path in first.rglob("*"):
        os.utime(path, (OLD, OLD))
    for path in second.rglob("*.py"):
        os.utime(path, (NEW, NEW))
        path.chmod(0o600)

    # When each is packaged
    one = build_code_archive("foo", source_root=first, out_dir=tmp_path / "out1", compiler=None)
    two = build_code_archive("foo", source_root=second, out_dir=tmp_path / "out2", compiler=None)

    # Then the zips are the same bytes and report the same hash
    assert one.path.read_bytes() == two.path.read_bytes()
    assert one.sha256_base64 == two.sha256_base64


def test_code_archive_entries_have_fixed_time_mode_and_compression(tmp_path: Path) -> None:
    # Given a packaged worker
    archive = build_code_archive(
        "foo", source_root=_source_tree(tmp_path / "src"), out_dir=tmp_path, compiler=None
    )

    # When its entries are inspected
    with zipfile.ZipFile(archive.path) as opened:
        infos = opened.infolist()

    # Then every entry is a deflated 0644 regular file stamped 1980-01-01
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {info.external_attr >> 16 for info in infos} == {0o100644}
    assert {info.compress_type for info in infos} == {zipfile.ZIP_DEFLATED}


def test_archive_reports_the_hash_lambda_expects_and_its_sizes(tmp_path: Path) -> None:
    # Given a packaged worker
    archive = build_code_archive(
        "foo", source_root=_source_tree(tmp_path / "src"), out_dir=tmp_path, compiler=None
    )

    # When its measurements are compared with the file
    content = archive.path.read_bytes()
    with zipfile.ZipFile(archive.path) as opened:
        sizes = [info.file_size for info in opened.infolist()]

    # Then the hash is base64 of the raw sha256 and the counts match the entries
    assert archive.sha256_base64 == base64.b64encode(hashlib.sha256(content).digest()).decode()
    assert archive.size_bytes == len(content)
    assert archive.uncompressed_bytes == sum(sizes)
    assert archive.file_count == 5


def test_handler_imports_from_the_archive_root(tmp_path: Path) -> None:
    # Given a packaged worker whose handler imports shared code
    archive = build_code_archive(
        "foo", source_root=_source_tree(tmp_path / "src"), out_dir=tmp_path, compiler=None
    )

    # When a fresh interpreter imports the handler straight from the zip, as Lambda would from /var/task
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "from workers.foo.handler import lambda_handler; print(lambda_handler({}, None))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(archive.path)], capture_output=True, text=True, check=True
    )

    # Then the handler runs with the shared module resolved inside the archive
    assert result.stdout.strip() == "42"


def test_unchanged_archive_is_not_rewritten_but_a_changed_one_is(tmp_path: Path) -> None:
    # Given a packaged worker whose zip carries an old mtime
    root = _source_tree(tmp_path / "src")
    archive = build_code_archive("foo", source_root=root, out_dir=tmp_path / "out", compiler=None)
    os.utime(archive.path, (OLD, OLD))

    # When it is packaged again from the same sources
    again = build_code_archive("foo", source_root=root, out_dir=tmp_path / "out", compiler=None)

    # Then the file is left alone
    assert again == archive
    assert archive.path.stat().st_mtime == OLD

    # When a source changes and it is packaged again
    _write(root / "workers/foo/logic.py", "CHANGED = True\n")
    changed = build_code_archive("foo", source_root=root, out_dir=tmp_path / "out", compiler=None)

    # Then the zip is rewritten with the new hash
    assert archive.path.stat().st_mtime != OLD
    assert changed.sha256_base64 != archive.sha256_base64
    assert "workers/foo/logic.py" in _entries(changed)


def test_code_archive_without_a_shared_folder_holds_the_worker_only(tmp_path: Path) -> None:
    # Given a source tree without workers/shared
    _write(tmp_path / "workers/__init__.py", "")
    _write(tmp_path / "workers/foo/handler.py", "")

    # When the worker is packaged
    archive = build_code_archive("foo", source_root=tmp_path, out_dir=tmp_path / "out", compiler=None)

    # Then the archive holds the package init and the worker
    assert _entries(archive) == ["workers/__init__.py", "workers/foo/handler.py"]


def test_missing_worker_raises_an_error_naming_it(tmp_path: Path) -> None:
    # Given a source tree without a "ghost" worker
    root = _source_tree(tmp_path / "src")

    # When it is packaged, Then the error names the worker
    with pytest.raises(PackagingError, match="'ghost'"):
        build_code_archive("ghost", source_root=root, out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["shared", "../foo", "foo/handler", ""])
def test_names_that_are_not_worker_packages_are_refused(tmp_path: Path, name: str) -> None:
    # Given a valid source tree
    root = _source_tree(tmp_path / "src")

    # When a path-like, empty or shared-code name is packaged, Then it is refused
    with pytest.raises(PackagingError, match="is not a worker name"):
        build_code_archive(name, source_root=root, out_dir=tmp_path / "out")


def test_missing_package_init_is_an_error(tmp_path: Path) -> None:
    # Given a worker folder but no workers/__init__.py
    _write(tmp_path / "workers/foo/handler.py", "")

    # When it is packaged, Then the error points at the missing file
    with pytest.raises(PackagingError, match=r"__init__\.py is missing"):
        build_code_archive("foo", source_root=tmp_path, out_dir=tmp_path / "out")


# ---------------------------------------------------------------------------------------------
# Bytecode in the code archives
# ---------------------------------------------------------------------------------------------


def test_code_archive_carries_cpython_312_unchecked_hash_bytecode_for_every_source(tmp_path: Path) -> None:
    # Given a source tree and a CPython 3.12
    compiler = native_compiler(tmp_path)

    # When the foo worker is packaged with it
    archive = build_code_archive(
        "foo", source_root=_source_tree(tmp_path / "src"), out_dir=tmp_path / "out", compiler=compiler
    )

    # Then every source has its cpython-312 pyc beside it in __pycache__ (the stale 3.11 one and the
    # stray .pyc are not shipped), each with 3.12's magic and the unchecked-hash flags
    sources = [
        "workers/__init__.py",
        "workers/foo/__init__.py",
        "workers/foo/handler.py",
        "workers/shared/__init__.py",
        "workers/shared/x.py",
    ]
    pycs = _pycs(archive)
    assert sorted(pycs) == sorted(pyc_path(path) for path in sources)
    assert [name for name in _entries(archive) if not name.endswith(".pyc")] == sources
    assert {pyc_header(pyc) for pyc in pycs.values()} == {(MAGIC, UNCHECKED_HASH_FLAGS)}
    assert archive.file_count == 10


def test_code_archive_with_bytecode_is_byte_identical_whatever_the_mtimes(tmp_path: Path) -> None:
    # Given the same sources twice with different mtimes, and a CPython 3.12
    compiler = native_compiler(tmp_path)
    first = _source_tree(tmp_path / "first")
    second = _source_tree(tmp_path / "second")
    for path in first.rglob("*.py"):
        os.utime(path, (OLD, OLD))
    for path in second.rglob("*.py"):
        os.utime(path, (NEW, NEW))

    # When each is packaged with bytecode
    one = build_code_archive("foo", source_root=first, out_dir=tmp_path / "out1", compiler=compiler)
    two = build_code_archive("foo", source_root=second, out_dir=tmp_path / "out2", compiler=compiler)

    # Then the zips are the same bytes (hash-based pycs carry no mtime)
    assert one.path.read_bytes() == two.path.read_bytes()


def test_every_worker_archive_is_compiled_in_one_run_and_cached(tmp_path: Path) -> None:
    # Given two workers sharing workers/shared, and a CPython 3.12
    compiler = native_compiler(tmp_path)
    root = _source_tree(tmp_path / "src")
    _write(root / "workers/bar/__init__.py", "")
    _write(root / "workers/bar/handler.py", "from workers.shared.x import VALUE\n")
    cache = tmp_path / "cache"

    # When both are packaged together with a compiled-file cache
    archives = build_code_archives(
        ["foo", "bar"], source_root=root, out_dir=tmp_path / "out", compiler=compiler, cache_dir=cache
    )

    # Then each holds its own bytecode and the shared one, and every distinct source was cached once
    assert "workers/bar/__pycache__/handler.cpython-312.pyc" in _pycs(archives["bar"])
    assert "workers/bar/__pycache__/handler.cpython-312.pyc" not in _pycs(archives["foo"])
    assert (
        _pycs(archives["foo"])["workers/shared/__pycache__/x.cpython-312.pyc"]
        == (_pycs(archives["bar"])["workers/shared/__pycache__/x.cpython-312.pyc"])
    )
    assert len(list(cache.glob("*.pyc"))) == 7  # workers/, shared/ (2), foo/ (2), bar/ (2)


def test_handler_runs_from_its_bytecode_in_a_read_only_folder_as_in_lambda(tmp_path: Path) -> None:
    # Given a worker packaged with bytecode, unzipped into a read-only folder as Lambda's /var/task
    compiler = native_compiler(tmp_path)
    archive = build_code_archive(
        "foo", source_root=_source_tree(tmp_path / "src"), out_dir=tmp_path / "out", compiler=compiler
    )
    task = tmp_path / "task"
    with zipfile.ZipFile(archive.path) as opened:
        opened.extractall(task)
    for path in task.rglob("*"):
        path.chmod(0o555 if path.is_dir() else 0o444)

    # When CPython 3.12 imports and runs the handler from there
    script = (
        f"import sys; sys.path.insert(0, {str(task)!r}); "
        "from workers.foo.handler import lambda_handler; print(lambda_handler({}, None))"
    )
    result = subprocess.run(
        [compiler.command[0], "-I", "-v", "-c", script], capture_output=True, text=True, check=True
    )

    # Then it runs from the shipped bytecode, compiling nothing
    assert result.stdout.strip() == "42"
    assert f"code object from '{task}/workers/foo/__pycache__/handler.cpython-312.pyc'" in result.stderr
    assert f"code object from '{task}/workers/shared/__pycache__/x.cpython-312.pyc'" in result.stderr


def test_without_a_compiler_the_archive_is_not_built_and_the_error_says_why(
    tmp_path: Path, nothing_installed: None
) -> None:
    # Given a machine with no CPython 3.12
    root = _source_tree(tmp_path / "src")

    # When a worker is packaged, Then packaging fails saying how to get one or to opt out
    with pytest.raises(PackagingError, match="make bytecode-compiler") as raised:
        build_code_archive("foo", source_root=root, out_dir=tmp_path / "out")
    assert "DMD_BYTECODE=off" in str(raised.value)
    assert not (tmp_path / "out").exists()


def test_with_bytecode_off_the_archive_is_source_only(
    tmp_path: Path, nothing_installed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given no CPython 3.12, and the explicit opt-out
    monkeypatch.setenv("DMD_BYTECODE", "off")

    # When a worker is packaged
    archive = build_code_archive("foo", source_root=_source_tree(tmp_path / "src"), out_dir=tmp_path / "out")

    # Then it holds its sources only
    assert archive.file_count == 5
    assert _pycs(archive) == {}


def test_an_archive_measured_without_writing_is_the_one_that_would_be_written(tmp_path: Path) -> None:
    # Given a source tree
    root = _source_tree(tmp_path / "src")

    # When it is measured without writing (as the offline synth does), then written
    measured = build_code_archives(
        ["foo"], source_root=root, out_dir=tmp_path / "out", compiler=None, write=False
    )
    assert not (tmp_path / "out").exists()
    written = build_code_archives(["foo"], source_root=root, out_dir=tmp_path / "out", compiler=None)

    # Then both describe the same zip at the same path
    assert measured == written


# ---------------------------------------------------------------------------------------------
# Layer requirements
# ---------------------------------------------------------------------------------------------


def test_committed_layer_requirements_match_the_lock(tmp_path: Path) -> None:
    # Given the pins exported from the current uv.lock (offline: export reads the lock only)
    exported = export_layer_requirements(PROJECT_ROOT)

    # When they are written the way the refresh command writes them
    write_layer_requirements(tmp_path / "layer-requirements.txt", exported)

    # Then the committed file is exactly that, and reads back as the same pins
    committed = LAYER_REQUIREMENTS_FILE.read_text(encoding="utf-8")
    assert committed == (tmp_path / "layer-requirements.txt").read_text(encoding="utf-8"), (
        "infra/layer-requirements.txt is stale: run `dmd package --refresh-requirements`"
    )
    assert read_layer_requirements(LAYER_REQUIREMENTS_FILE) == exported


def test_layer_requirements_hold_runtime_dependencies_but_not_what_lambda_ships() -> None:
    # Given the committed layer pins
    names = {line.partition("==")[0] for line in read_layer_requirements(LAYER_REQUIREMENTS_FILE)}

    # Then the runtime closure is there, and neither boto3's closure nor the infra/ops/dev groups are
    assert {"aws-lambda-powertools", "pydantic", "opentelemetry-sdk"} <= names
    # Settings are plain pydantic models over os.environ: pydantic-settings (and dotenv) stay out
    assert not names & {"pydantic-settings", "python-dotenv"}
    assert not names & {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"}
    assert not names & {"pulumi", "pulumi-aws", "typer", "rich", "pytest", "moto", "uv"}


def test_filter_drops_comments_and_runtime_packages_and_sorts_by_name() -> None:
    # Given exported lines in any order, with comments and differently spelled runtime packages
    exported = [
        "# comment",
        "",
        "pydantic-core==2.0.0",
        "Python_Dateutil==2.9.0",
        "pydantic==2.0.0",
        "boto3==1.40.0",
        "annotated-types==0.7.0",
    ]

    # When they are filtered
    pins = filter_layer_requirements(exported)

    # Then only the layer's pins remain, sorted by package name
    assert pins == ["annotated-types==0.7.0", "pydantic==2.0.0", "pydantic-core==2.0.0"]


@pytest.mark.parametrize(
    "line",
    ["colorama==0.4.6 ; sys_platform == 'win32'", "-e .", "requests>=2", "pkg @ https://example.com/pkg.whl"],
)
def test_filter_refuses_anything_but_bare_pins(line: str) -> None:
    # Given an exported line the layer builder cannot evaluate for Lambda
    # When it is filtered, Then it is refused rather than guessed at
    with pytest.raises(PackagingError, match="bare `name==version` pins"):
        filter_layer_requirements(["pydantic==2.0.0", line])


# ---------------------------------------------------------------------------------------------
# Layer spec
# ---------------------------------------------------------------------------------------------


def test_layer_key_ignores_pin_order_but_follows_pins_and_architecture() -> None:
    # Given specs that differ in pin order, pin version or architecture
    base = LayerSpec(requirements=("a==1", "b==2"), architecture="arm64")
    reordered = LayerSpec(requirements=("b==2", "a==1"), architecture="arm64")
    bumped = LayerSpec(requirements=("a==1", "b==3"), architecture="arm64")
    other_arch = LayerSpec(requirements=("a==1", "b==2"), architecture="x86_64")

    # Then order does not change the identity; a pin or the platform does
    assert base.key == reordered.key
    assert len({base.key, bumped.key, other_arch.key}) == 3


def test_layer_key_changes_when_the_build_recipe_does(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a spec's key under the current recipe
    spec = LayerSpec(requirements=("a==1",), architecture="arm64")
    before = (spec.key, spec.source_code_hash)

    # When the recipe version is bumped (build_layer's output changed for the same pins)
    monkeypatch.setattr("infra.packaging.LAYER_RECIPE", 999)

    # Then the identity and Lambda's hash move with it, so the layer is republished
    assert (spec.key, spec.source_code_hash) != before


def test_layer_key_says_whether_the_layer_carries_bytecode() -> None:
    # Given the same pins with and without bytecode
    compiled = LayerSpec(requirements=("a==1",), architecture="arm64")
    source_only = LayerSpec(requirements=("a==1",), architecture="arm64", bytecode=False)

    # Then they are different layers (a source-only build never hides behind the compiled one's hash)
    assert compiled.bytecode
    assert compiled.key != source_only.key
    assert compiled.archive_path(Path("b")) != source_only.archive_path(Path("b"))


def test_layer_source_code_hash_is_the_base64_form_of_the_key() -> None:
    # Given a spec
    spec = LayerSpec(requirements=("a==1",), architecture="arm64")

    # Then both hashes are the same digest, in hex and in Lambda's base64 form
    assert base64.b64decode(spec.source_code_hash).hex() == spec.key
    assert len(spec.key) == 64


def test_layer_archive_path_names_architecture_and_key(tmp_path: Path) -> None:
    # Given a spec
    spec = LayerSpec(requirements=("a==1",), architecture="x86_64")

    # Then its archive lives under layers/ named by platform and key prefix
    assert spec.archive_path(tmp_path) == tmp_path / "layers" / f"deps-x86_64-{spec.key[:16]}.zip"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"requirements": ("a>=1",), "architecture": "arm64"}, "requirements must be exact"),
        ({"requirements": (), "architecture": "arm64"}, "requirements is empty"),
        ({"requirements": ("a==1",), "architecture": "aarch64"}, "architecture must be one of"),
        ({"requirements": ("a==1",), "architecture": "arm64", "python_version": "3.9"}, "python_version"),
    ],
)
def test_layer_spec_refuses_invalid_fields_naming_them(fields: dict[str, object], message: str) -> None:
    # When a spec is built from invalid fields, Then the error names the field
    with pytest.raises(ValueError, match=message):
        LayerSpec(**fields)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Layer build (offline: a hand-made wheel and --no-index)
# ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_layer_is_byte_identical_across_builds_and_rooted_at_python(tmp_path: Path) -> None:
    # Given a local wheel and a spec pinning it
    wheels = _wheel(tmp_path / "wheels").parent
    spec = LayerSpec(requirements=("tinydep==1.0",), architecture="arm64", bytecode=False)
    offline = ("--no-index", "--find-links", str(wheels))

    # When the layer is built into two different build dirs
    one = build_layer(spec, build_dir=tmp_path / "build1", pip_extra_args=offline)
    two = build_layer(spec, build_dir=tmp_path / "build2", pip_extra_args=offline)

    # Then the zips are the same bytes, every entry sits under python/, and neither bytecode nor
    # console scripts (nor RECORD lines pointing at them) are shipped
    assert one.path.read_bytes() == two.path.read_bytes()
    assert one.path == spec.archive_path(tmp_path / "build1")
    names = _entries(one)
    assert "python/tinydep/__init__.py" in names
    assert "python/tinydep-1.0.dist-info/METADATA" in names
    assert all(name.startswith("python/") for name in names)
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]
    assert not [name for name in names if name.startswith("python/bin/")]
    with zipfile.ZipFile(one.path) as opened:
        record = opened.read("python/tinydep-1.0.dist-info/RECORD").decode()
    assert "tinydep/__init__.py," in record
    assert "../" not in record


@pytest.mark.slow
def test_existing_layer_archive_is_reused_without_running_pip(tmp_path: Path) -> None:
    # Given a layer already built
    wheels = _wheel(tmp_path / "wheels").parent
    spec = LayerSpec(requirements=("tinydep==1.0",), architecture="x86_64", bytecode=False)
    built = build_layer(spec, build_dir=tmp_path, pip_extra_args=("--no-index", "--find-links", str(wheels)))

    # When it is requested again with an index that holds nothing
    empty = tmp_path / "empty"
    empty.mkdir()
    again = build_layer(spec, build_dir=tmp_path, pip_extra_args=("--no-index", "--find-links", str(empty)))

    # Then the cached archive is returned, measured the same
    assert again == built


@pytest.mark.slow
def test_layer_build_failure_raises_with_pips_reason(tmp_path: Path) -> None:
    # Given a spec pinning a package no local index holds
    empty = tmp_path / "empty"
    empty.mkdir()
    spec = LayerSpec(requirements=("nosuchpkg==1.0",), architecture="arm64", bytecode=False)

    # When the layer is built, Then the error carries pip's explanation and nothing is left behind
    with pytest.raises(PackagingError, match="nosuchpkg"):
        build_layer(spec, build_dir=tmp_path, pip_extra_args=("--no-index", "--find-links", str(empty)))
    assert not spec.archive_path(tmp_path).exists()


@pytest.mark.slow
def test_layer_carries_cpython_312_bytecode_for_its_modules_and_is_byte_identical(tmp_path: Path) -> None:
    # Given a local wheel, a spec pinning it (bytecode by default) and a CPython 3.12
    compiler = native_compiler(tmp_path)
    wheels = _wheel(tmp_path / "wheels").parent
    spec = LayerSpec(requirements=("tinydep==1.0",), architecture="arm64")
    offline = ("--no-index", "--find-links", str(wheels))

    # When the layer is built twice into different build dirs
    one = build_layer(spec, build_dir=tmp_path / "build1", pip_extra_args=offline, compiler=compiler)
    two = build_layer(spec, build_dir=tmp_path / "build2", pip_extra_args=offline, compiler=compiler)

    # Then the module has its cpython-312 unchecked-hash pyc under python/, the zips are the same bytes,
    # and pip's own artifacts stay out (console scripts)
    pycs = _pycs(one)
    assert sorted(pycs) == ["python/tinydep/__pycache__/__init__.cpython-312.pyc"]
    assert {pyc_header(pyc) for pyc in pycs.values()} == {(MAGIC, UNCHECKED_HASH_FLAGS)}
    assert b"/opt/python/tinydep/__init__.py" in pycs["python/tinydep/__pycache__/__init__.cpython-312.pyc"]
    assert one.path.read_bytes() == two.path.read_bytes()
    assert not [name for name in _entries(one) if name.startswith("python/bin/")]


def test_layer_with_bytecode_and_no_compiler_fails_before_installing_anything(
    tmp_path: Path, nothing_installed: None
) -> None:
    # Given no CPython 3.12 and a spec asking for bytecode
    spec = LayerSpec(requirements=("tinydep==1.0",), architecture="arm64")

    # When the layer is built, Then it fails saying how to get a compiler, and nothing is left behind
    with pytest.raises(PackagingError, match="make bytecode-compiler"):
        build_layer(spec, build_dir=tmp_path, pip_extra_args=("--no-index",))
    assert not spec.archive_path(tmp_path).exists()
