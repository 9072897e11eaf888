"""No models. The module's presence makes Django send this app its
post_migrate signal, which installs the Support group (ops.apps)."""
