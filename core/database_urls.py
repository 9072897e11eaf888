import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo


def url_masked(url: str) -> str:
    """The connection string without its password, for output."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "<unparsable database URL>"
    if "password" in params:
        params["password"] = "***"  # noqa: S105  (a mask)
    return make_conninfo("", **params)
