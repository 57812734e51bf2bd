"""The program a pycall task's interpreter runs (``python -c <this source> <spec>``).

It uses only the standard library, because the task's interpreter need not have caravan
installed. ``spec`` is JSON: ``callable``, ``args``, ``kwargs`` and ``python_path``. The
exit code is 0 when the callable returns, the int it returns if it returns one, its
``SystemExit`` code if it calls ``sys.exit``, and 1 with the traceback on stderr if it
raises.
"""

import importlib
import json
import sys
import traceback


def main() -> int:
    """Import and call the callable described by ``sys.argv[1]``; return the exit code."""
    spec = json.loads(sys.argv[1])
    sys.argv = [spec["callable"]]
    sys.path[:0] = spec["python_path"]
    module_name, _, attribute = spec["callable"].partition(":")
    try:
        target = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
        result = target(*spec["args"], **spec["kwargs"])
    except SystemExit:
        raise
    except BaseException:
        traceback.print_exc()
        return 1
    # bool is an int, but "return True" means success, not exit code 1.
    if isinstance(result, int) and not isinstance(result, bool):
        return result
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.exit(code)
