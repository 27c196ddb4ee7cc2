"""Built-in jdm-cds plugins (import name ``jdm_cds_plugins``).

They are registered through the project's own ``jdm_cds`` entry points, the same path as
a plugin installed from another package, and can be disabled the same way
(``--disable-plugin NAME``).
"""
