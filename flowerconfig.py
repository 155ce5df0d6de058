"""Flower's configuration, read by `celery -A app flower` from this directory (see app/ops/flower.py).

Command-line options (`--address`, `--port`, `--url_prefix`, ...) still override what is set here.
"""

from tornado.options import options as _flower_options

from app.ops.flower import DEFAULT_ADDRESS, basic_auth_pairs, refuse_unsafe_start
from app.settings import get_settings

# Loopback unless told otherwise: Flower's own default is every interface.
address = DEFAULT_ADDRESS

_logins = basic_auth_pairs(get_settings())
if _logins:
    basic_auth = _logins

_flower_options.add_parse_callback(lambda: refuse_unsafe_start(_flower_options))
