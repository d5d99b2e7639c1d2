"""Names a package offers without importing their modules up front.

`tfzoo`, `tfzoo.data` and `tfzoo.serving` name their most used calls at
the top, but importing the package must stay light (the command line
checks arguments before TensorFlow loads). Each names its table, and
`lazy_attributes` imports a name's module when the name is first used.
"""

import importlib


def lazy_attributes(package, table):
    """A module `__getattr__` that returns `table[name]`'s attribute
    `name` (`table`: `{name: module path}`), imported on first use.

    Raises (when called):
        AttributeError: a name not in `table`.
    """
    def __getattr__(name):
        if name not in table:
            raise AttributeError(f"module {package!r} has no attribute "
                                 f"{name!r}")
        return getattr(importlib.import_module(table[name]), name)

    return __getattr__
