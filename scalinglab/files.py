"""Writing files so that a crash or kill -9 leaves either the old version or the new one, never half."""
import os


def write_atomic(path, data: bytes):
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:  # an interrupt (Ctrl-C) mid-write leaves the old version and no stray temporary file
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
