namespace Transformer2.Training.Execution;

/// <summary>
/// The Python that runs before the untrusted program: it sets rlimits, drops root, installs an audit hook that refuses
/// writes outside the working folder, network use, starting other programs and native-code loading, then runs
/// <c>main.py</c>. The hook lives in closures (not module globals) and the gc introspection that could reach it is refused.
/// </summary>
internal static class SandboxBoot
{
    public const string FileName = "_t2_boot.py";

    public const string Source = """
import json as _json, os as _os, resource as _resource, sys as _sys

def _boot():
    cfg = _json.loads(_sys.argv[1])
    if cfg["setsid"]:
        try:
            _os.setsid()
        except OSError:
            pass

    def limit(kind, value, name):
        soft, hard = _resource.getrlimit(kind)
        if hard != _resource.RLIM_INFINITY and value > hard:
            value = hard
        try:
            _resource.setrlimit(kind, (value, value))
        except (ValueError, OSError) as e:
            _sys.stderr.write("sandbox: cannot set %s: %s\n" % (name, e))
            _os._exit(120)

    limit(_resource.RLIMIT_AS, cfg["mem"], "RLIMIT_AS")
    limit(_resource.RLIMIT_FSIZE, cfg["fsize"], "RLIMIT_FSIZE")
    limit(_resource.RLIMIT_CPU, cfg["cpu"], "RLIMIT_CPU")
    limit(_resource.RLIMIT_CORE, 0, "RLIMIT_CORE")
    uid = cfg.get("uid")
    if uid is not None:
        try:
            _os.setgroups([])
            _os.setgid(uid)
            _os.setuid(uid)
        except OSError as e:
            _sys.stderr.write("sandbox: cannot drop privileges: %s\n" % e)
            _os._exit(120)
    limit(_resource.RLIMIT_NPROC, cfg["nproc"], "RLIMIT_NPROC")
    _os.chdir(cfg["dir"])
    root = _os.path.realpath(cfg["dir"])
    allowed = {root, _os.path.realpath(_os.devnull)}
    write_flags = _os.O_WRONLY | _os.O_RDWR | _os.O_CREAT | _os.O_TRUNC | _os.O_APPEND
    path_events = {"os.remove", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.truncate", "os.utime",
                   "shutil.rmtree", "os.chflags", "os.lchflags", "os.lchmod", "os.mkfifo", "os.mknod", "os.setxattr",
                   "os.removexattr"}
    net_events = {"socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo",
                  "socket.gethostbyname", "socket.gethostbyaddr", "socket.getnameinfo"}
    exec_events = {"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.startfile", "pty.spawn"}
    deny_events = {"os.link", "os.symlink", "ctypes.dlsym", "ctypes.dlsym/handle", "gc.get_objects", "gc.get_referrers",
                   "gc.get_referents", "sys._current_frames", "sys.setprofile", "sys.settrace"}
    busy = [False]

    def inside(path):
        if isinstance(path, int):
            return True
        try:
            if isinstance(path, bytes):
                path = _os.fsdecode(path)
            real = _os.path.realpath(_os.path.join(_os.getcwd(), _os.fspath(path)))
        except Exception:
            return False
        return real in allowed or real.startswith(root + _os.sep)

    def hook(event, args):
        if busy[0]:
            return
        busy[0] = True
        try:
            if event == "open":
                path, mode, flags = args
                writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (isinstance(flags, int) and flags & write_flags)
                if writing and path is not None and not inside(path):
                    raise PermissionError("sandbox: writing outside the working folder is not allowed: %r" % (path,))
            elif event in path_events:
                if args and not inside(args[0]):
                    raise PermissionError("sandbox: changing files outside the working folder is not allowed: %r" % (args[0],))
            elif event == "os.rename":
                if not (inside(args[0]) and inside(args[1])):
                    raise PermissionError("sandbox: moving files outside the working folder is not allowed")
            elif event in net_events:
                raise PermissionError("sandbox: network access is not allowed")
            elif event in exec_events:
                raise PermissionError("sandbox: starting programs is not allowed")
            elif event in deny_events:
                raise PermissionError("sandbox: %s is not allowed" % event)
            elif event == "ctypes.dlopen" and args and args[0] is not None:
                raise PermissionError("sandbox: loading native libraries is not allowed")
            elif event in ("os.kill", "os.killpg"):
                own = _os.getpgid(0)
                target = args[0]
                if event == "os.killpg":
                    bad = target not in (0, own)
                elif target == -1 or (target < -1 and -target != own):
                    bad = True
                elif target > 0 and target != _os.getpid():
                    try:
                        bad = _os.getpgid(target) != own
                    except OSError:
                        bad = True
                else:
                    bad = False
                if bad:
                    raise PermissionError("sandbox: signalling other processes is not allowed")
        finally:
            busy[0] = False

    _sys.addaudithook(hook)

    def refused(*args, **kwargs):
        raise PermissionError("sandbox: leaving the process group is not allowed")

    _os.setsid = refused
    _os.setpgid = refused
    _os.setpgrp = refused
    _sys.argv = ["main.py"]
    with open("main.py", encoding="utf-8") as f:
        source = f.read()
    return compile(source, "main.py", "exec")

_code = _boot()
del _boot
exec(_code, {"__name__": "__main__", "__file__": "main.py", "__builtins__": __builtins__})
""";
}
