from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation


class JSONOnlyNegotiation(DefaultContentNegotiation):
    """Never 406: when no renderer matches `Accept`, answer with the first
    (JSON for the API), as Medusa does. The SDK sends `accept: text/plain` on
    reset-password; refusing it would break the SDK.

    Never 404 for `?format=` either: a format no renderer offers is ignored,
    like any other query parameter the route does not read (DRF would answer
    404 on a route that exists). `/api/schema/?format=json` still picks the
    schema's JSON renderer."""

    def select_renderer(self, request, renderers, format_suffix=None):
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except NotAcceptable:
            return renderers[0], renderers[0].media_type

    def filter_renderers(self, renderers, format):
        return [renderer for renderer in renderers if renderer.format == format] or (
            renderers
        )
