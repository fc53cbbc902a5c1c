"""A FUSE file system whose files never answer a read: a hung network or FUSE mount, for real.

usage: slow-fuse.py MOUNTPOINT [NAME[=CONTENT_FILE] ...]

Mounts (needs root and /dev/fuse; speaks the kernel's FUSE protocol itself, no libfuse) a
directory holding regular files (default: one, `secret`): lookup, stat, open and listing answer
at once; a read of a file NAME is never answered (it claims 16 bytes), a read of a file
NAME=CONTENT_FILE is answered with CONTENT_FILE's bytes (read when mounting). Prints "ready" once
mounted. Stops when its standard input closes or on SIGTERM: the connection is closed (a read
still waiting then fails) and the mount detached.
"""
import ctypes
import errno
import os
import select
import signal
import struct
import sys

FUSE_LOOKUP, FUSE_FORGET, FUSE_GETATTR, FUSE_OPEN, FUSE_READ = 1, 2, 3, 14, 15
FUSE_RELEASE, FUSE_FLUSH, FUSE_INIT, FUSE_OPENDIR, FUSE_READDIR = 18, 25, 26, 27, 28
FUSE_RELEASEDIR, FUSE_INTERRUPT, FUSE_DESTROY, FUSE_BATCH_FORGET = 29, 36, 38, 42
FOPEN_DIRECT_IO = 1
SIZE = 16


# name -> (inode, content or None when reads are never answered)
FILES: dict = {}


def content_of(ino: int):
    return next((c for (i, c) in FILES.values() if i == ino), None)


def attr(ino: int) -> bytes:
    content = content_of(ino)
    mode, size, nlink = (0o40755, 0, 2) if ino == 1 else (0o100644, SIZE if content is None else len(content), 1)
    # ino size blocks atime mtime ctime atimensec mtimensec ctimensec mode nlink uid gid rdev blksize flags
    return struct.pack("<QQQQQQIIIIIIIIII", ino, size, 1, 0, 0, 0, 0, 0, 0, mode, nlink, 0, 0, 0, 4096, 0)


def dirents(offset: int) -> bytes:
    entries = [(1, b".", 4), (1, b"..", 4)] + [(i, n.encode(), 8) for n, (i, _) in FILES.items()]
    out = b""
    for index, (ino, name, kind) in enumerate(entries):
        if index < offset:
            continue
        entry = struct.pack("<QQII", ino, index + 1, len(name), kind) + name
        out += entry + b"\0" * (-len(entry) % 8)
    return out


def main() -> None:
    mountpoint = sys.argv[1]
    for index, spec in enumerate(sys.argv[2:] or ["secret"]):
        name, _, path = spec.partition("=")
        content = None
        if path:
            with open(path, "rb") as f:
                content = f.read()
        FILES[name] = (index + 2, content)
    fd = os.open("/dev/fuse", os.O_RDWR)
    libc = ctypes.CDLL(None, use_errno=True)
    opts = f"fd={fd},rootmode=40000,user_id=0,group_id=0,allow_other".encode()
    if libc.mount(b"orch-slow-fuse", mountpoint.encode(), b"fuse", ctypes.c_ulong(6), opts) != 0:  # MS_NOSUID|MS_NODEV
        e = ctypes.get_errno()
        sys.exit(f"mount failed: {os.strerror(e)}")

    def stop(*_: object) -> None:
        os.close(fd)
        libc.umount2(mountpoint.encode(), 2)  # MNT_DETACH
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)

    def reply(unique: int, error: int = 0, body: bytes = b"") -> None:
        os.write(fd, struct.pack("<IiQ", 16 + len(body), -error, unique) + body)

    announced = False
    while True:
        ready, _, _ = select.select([fd, sys.stdin], [], [])
        if sys.stdin in ready and not sys.stdin.buffer.read1(4096):
            stop()
        if fd not in ready:
            continue
        try:
            request = os.read(fd, 1 << 18)
        except OSError as e:
            if e.errno in (errno.ENOENT, errno.EINTR, errno.EAGAIN):
                continue
            stop()
        _, opcode, unique, nodeid = struct.unpack_from("<IIQQ", request)
        body = request[40:]
        if opcode == FUSE_INIT:
            major, minor, readahead, _flags = struct.unpack_from("<IIII", body)
            # major minor max_readahead flags max_background congestion_threshold max_write time_gran max_pages map_alignment flags2 unused[7]
            reply(unique, body=struct.pack("<IIIIHHIIHHI7I", 7, min(minor, 31), readahead, 0, 16, 12, 1 << 17, 1, 32, 0, 0, *([0] * 7)))
            if not announced:
                print("ready", flush=True)
                announced = True
        elif opcode == FUSE_LOOKUP:
            name = body.split(b"\0", 1)[0]
            found = FILES.get(name.decode(errors="replace")) if nodeid == 1 else None
            if found:
                reply(unique, body=struct.pack("<QQQQII", found[0], 0, 1, 1, 0, 0) + attr(found[0]))
            else:
                reply(unique, errno.ENOENT)
        elif opcode == FUSE_GETATTR:
            reply(unique, body=struct.pack("<QII", 1, 0, 0) + attr(nodeid))
        elif opcode in (FUSE_OPEN, FUSE_OPENDIR):
            reply(unique, body=struct.pack("<QII", 1, FOPEN_DIRECT_IO if opcode == FUSE_OPEN else 0, 0))
        elif opcode == FUSE_READ:
            content = content_of(nodeid)
            if content is not None:
                _fh, offset, size = struct.unpack_from("<QQI", body)
                reply(unique, body=content[offset : offset + size])
            # else never answered: the reader waits until it is killed or the connection closes
        elif opcode == FUSE_READDIR:
            _fh, offset, _size = struct.unpack_from("<QQI", body)
            reply(unique, body=dirents(offset))  # a few short entries: always within `size`
        elif opcode in (FUSE_RELEASE, FUSE_RELEASEDIR, FUSE_FLUSH):
            reply(unique)
        elif opcode in (FUSE_FORGET, FUSE_BATCH_FORGET, FUSE_INTERRUPT):
            pass  # no reply expected (an interrupted read stays unanswered)
        elif opcode == FUSE_DESTROY:
            reply(unique)
            stop()
        else:
            reply(unique, errno.ENOSYS)


main()
