from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation


class JSONOnlyNegotiation(DefaultContentNegotiation):
    """Never 406: when no renderer matches `Accept`, answer with the first
    (JSON for the API), as Medusa does. The SDK sends `accept: text/plain` on
    reset-password; refusing it would break the SDK."""

    def select_renderer(self, request, renderers, format_suffix=None):
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except NotAcceptable:
            return renderers[0], renderers[0].media_type
