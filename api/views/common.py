"""What the account routes share: the provider check and its
message, the `fields` query, the customer envelope."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.response import Response

from accounts import selectors
from accounts.models import Customer, CustomerAddress, Provider
from api.representations import (
    CustomerFields,
    customer_representation,
    fields_select,
)
from core.errors import InvalidData, NotFound, Unauthorized

UNKNOWN_PROVIDER = (
    "\nUnable to retrieve the auth provider with id: {provider}\n"
    "Please make sure that the provider is registered in the container and it "
    "is configured correctly in your application configuration file or in the "
    "module definition.\n"
)


PASSWORD_PROVIDERS = (Provider.EMAILPASS,)


PROVIDER_PARAMETER = OpenApiParameter(
    "provider",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    enum=[Provider.EMAILPASS.value],
    description="Auth provider; any other is 401 `unauthorized`",
)


FIELDS_PARAMETER = OpenApiParameter(
    "fields", str, description="Medusa field selection, e.g. `id,email` or `*orders`"
)


def provider_check(provider: str, allowed: tuple[str, ...]) -> None:
    if provider not in allowed:
        raise Unauthorized(UNKNOWN_PROVIDER.format(provider=provider))


def unrecognized_keys_refuse(unknown: list[str]) -> None:
    """Medusa's strict query schemas: any other key is 400."""
    if unknown:
        raise InvalidData(
            f"Invalid request: Unrecognized fields: '{', '.join(unknown)}'"
        )


def fields_only(request) -> str | None:
    """The `fields` parameter, the only one a single-object route takes."""
    unrecognized_keys_refuse([key for key in request.query_params if key != "fields"])
    return request.query_params.get("fields")


def query_fields(request) -> CustomerFields:
    return fields_select(fields_only(request))


def customer_response(
    customer, fields: CustomerFields, *, addresses, email_verified: bool | None = None
) -> Response:
    return Response(
        {
            "customer": customer_representation(
                customer, fields, addresses=addresses, email_verified=email_verified
            )
        }
    )


def email_verified(request) -> bool:
    """Whether the request's identity proved its mailbox (loaded with it)."""
    return request.user.identity.email_verified_at is not None


def customer_addresses(
    customer: Customer,
    fields: CustomerFields,
    read: list[CustomerAddress] | None = None,
) -> list[CustomerAddress] | None:
    """The customer's addresses when `fields` selects them: `read` if the
    request has them already (CustomerAuth.addresses), else one query."""
    if not fields.with_addresses:
        return None
    if read is not None:
        return read
    return selectors.addresses_of(customer_id=customer.id)


def current_customer(request) -> Customer:
    """The customer of the request's token (loaded with its identity), or
    404 if it is gone."""
    customer = selectors.customer_of(request.user.identity)
    if customer is None or not request.user.customer_id:
        raise NotFound(f"Customer with id: {request.user.customer_id} was not found")
    return customer
