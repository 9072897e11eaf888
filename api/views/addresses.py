"""Medusa's address book of the logged-in customer
(`sdk.store.customer.*Address`): list and create, read, update and delete
one. Bodies and answers as Medusa 2.21 (docs/medusa-contract.md,
"Addresses"); the rules are accounts.services.addresses'."""

import re
from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.services.addresses import address_not_found
from api.authentication import CustomerAuthentication, IsCustomer
from api.bodies import AddressSerializer
from api.errors import js_string
from api.fields import validated
from api.parsers import UNSAFE_TEXT_MESSAGE, text_is_safe
from api.representations import (
    ADDRESS_FIELDS,
    address_fields_select,
    address_representation,
    customer_representation,
)
from api.schema import BODY_ERRORS, PUBLISHABLE_KEY_HEADER, errors
from api.shapes import (
    ADDRESS_SCHEMA,
    CUSTOMER_ENVELOPE,
    CUSTOMER_SCHEMA,
    CUSTOMER_TOKEN,
    SESSION_COOKIE,
    requirement,
)
from api.views.common import (
    FIELDS_PARAMETER,
    current_customer,
    customer_response,
    email_verified,
    fields_only,
    query_fields,
    unrecognized_keys_refuse,
)
from core.errors import InvalidData

# Medusa: `offset` and `limit` are numbers; ours are also bounded, so no
# value reaches PostgreSQL as an out-of-range integer.
PAGE_MAX = 2**31 - 1
# Each word of `q` is a condition on nine columns: a bounded search.
Q_MAX_LENGTH = 200
LIST_FILTERS = ("city", "country_code", "postal_code")
LIST_KEYS = ("fields", "offset", "limit", "order", "with_deleted", "q", *LIST_FILTERS)
# `city[]=a` and `city[0]=a` (qs.stringify's arrays, as the SDK sends them).
ARRAY_KEY = re.compile(r"^(?P<name>[a-z_]+)\[\d*\]$")

AUTH = requirement(CUSTOMER_TOKEN, SESSION_COOKIE)
ADDRESS_ID_PARAMETER = OpenApiParameter(
    "address_id", OpenApiTypes.STR, OpenApiParameter.PATH
)
ADDRESS_FIELDS_PARAMETER = OpenApiParameter(
    "fields", str, description="Medusa field selection of the address, e.g. `id,city`"
)
LIST_PARAMETERS = [
    ADDRESS_FIELDS_PARAMETER,
    OpenApiParameter("offset", OpenApiTypes.INT, description="Default 0", default=0),
    OpenApiParameter("limit", OpenApiTypes.INT, description="Default 50", default=50),
    OpenApiParameter(
        "order",
        str,
        description="An address field, `-field` for descending; default `id`",
    ),
    OpenApiParameter("with_deleted", OpenApiTypes.BOOL, description="Accepted"),
    OpenApiParameter(
        "q",
        {"type": "string", "maxLength": Q_MAX_LENGTH},
        description="Every word must be in the name, company, names, address "
        "lines, city, province or postal code (any case)",
    ),
    *(
        OpenApiParameter(
            name, {"type": "array", "items": {"type": "string"}}, explode=True
        )
        for name in LIST_FILTERS
    ),
]
LIST_RESPONSE = OpenApiResponse(
    {
        "type": "object",
        "required": ["addresses", "count", "offset", "limit"],
        "properties": {
            "addresses": {"type": "array", "items": ADDRESS_SCHEMA},
            "count": {"type": "integer"},
            "offset": {"type": "integer"},
            "limit": {"type": "integer"},
        },
    },
    description="A page of the customer's addresses",
)
ADDRESS_ENVELOPE = OpenApiResponse(
    {
        "type": "object",
        "required": ["address"],
        "properties": {"address": ADDRESS_SCHEMA},
    },
    description="The address",
)
DELETED_RESPONSE = OpenApiResponse(
    {
        "type": "object",
        "required": ["id", "object", "deleted", "parent"],
        "properties": {
            "id": {"type": "string", "description": "The customer's id (Medusa)"},
            "object": {"type": "string", "enum": ["address"]},
            "deleted": {"type": "boolean", "enum": [True]},
            "parent": CUSTOMER_SCHEMA,
        },
    },
    description="Deleted; `parent` is the customer",
)


def _query(request) -> dict[str, list[str]]:
    """The query string as Medusa's qs reads it: a repeated key or `key[]`
    is a list. Unknown keys and unsafe text are refused."""
    query: dict[str, list[str]] = {}
    unknown = []
    for key, values in request.query_params.lists():
        match = ARRAY_KEY.match(key)
        name = match["name"] if match else key
        if name not in LIST_KEYS:
            unknown.append(key)
            continue
        if not all(text_is_safe(value) for value in values):
            raise InvalidData(UNSAFE_TEXT_MESSAGE)
        query.setdefault(name, []).extend(values)
    unrecognized_keys_refuse(unknown)
    return query


def _one(query: dict[str, list[str]], name: str, kind: str = "string") -> str | None:
    values = query.get(name)
    if values is None:
        return None
    if len(values) != 1:
        raise InvalidData(
            f"Invalid request: Expected type: '{kind}' for field '{name}', "
            f"got: '{js_string(values)}'"
        )
    return values[0]


def _page_number(query: dict[str, list[str]], name: str, default: int) -> int:
    value = _one(query, name, kind="number")
    if value is None:
        return default
    if not value.isascii() or not value.isdigit():
        raise InvalidData(
            f"Invalid request: Expected type: 'number' for field '{name}', "
            f"got: '{value}'"
        )
    if int(value) > PAGE_MAX:
        raise InvalidData(
            f"Invalid request: Value for field '{name}' too big, expected at "
            f"most: '{PAGE_MAX}'"
        )
    return int(value)


def _list_arguments(request) -> dict[str, Any]:
    query = _query(request)
    order = _one(query, "order") or "id"
    if order.removeprefix("-") not in ADDRESS_FIELDS:
        raise InvalidData(f"Order field {order.removeprefix('-')} is not valid")
    if _one(query, "with_deleted", kind="boolean") not in (None, "true", "false"):
        raise InvalidData(
            "Invalid request: Expected type: 'boolean' for field 'with_deleted', "
            f"got: '{query['with_deleted'][0]}'"
        )
    exact = {name: query[name] for name in LIST_FILTERS if name in query}
    if "country_code" in exact:  # stored lower-case
        exact["country_code"] = [code.lower() for code in exact["country_code"]]
    q = _one(query, "q")
    if q is not None and len(q) > Q_MAX_LENGTH:
        raise InvalidData(
            f"Invalid request: Value for field 'q' too big, expected at most: "
            f"'{Q_MAX_LENGTH}'"
        )
    return {
        "fields": address_fields_select(_one(query, "fields")),
        "q": q,
        "exact": exact,
        "order": order,
        "offset": _page_number(query, "offset", 0),
        "limit": _page_number(query, "limit", 50),
    }


def _address_fields(request) -> tuple[str, ...]:
    return address_fields_select(fields_only(request))


def _address_id(address_id: str) -> str:
    """An id PostgreSQL cannot be asked about (NUL) is not found either."""
    if not text_is_safe(address_id):
        raise address_not_found(address_id.replace("\x00", ""))
    return address_id


class AddressListApi(APIView):
    authentication_classes = [CustomerAuthentication]
    permission_classes = [IsCustomer]

    @extend_schema(
        operation_id="store_customers_me_addresses_list",
        summary="List the logged-in customer's addresses",
        auth=AUTH,
        parameters=[PUBLISHABLE_KEY_HEADER, *LIST_PARAMETERS],
        responses={
            200: LIST_RESPONSE,
            **errors(400, 401, 404, 503, unauthorized="bare"),
        },
    )
    def get(self, request):
        arguments = _list_arguments(request)
        fields = arguments.pop("fields")
        customer = current_customer(request)  # a deleted customer's is gone
        addresses, count = selectors.addresses_list(
            customer_id=customer.id, **arguments
        )
        return Response(
            {
                "addresses": [
                    address_representation(address, fields) for address in addresses
                ],
                "count": count,
                "offset": arguments["offset"],
                "limit": arguments["limit"],
            }
        )

    @extend_schema(
        operation_id="store_customers_me_addresses_create",
        summary="Add an address to the logged-in customer's address book",
        description="A default flag sent `true` is taken from the customer's "
        "other addresses. At most ADDRESSES_PER_CUSTOMER_MAX addresses (400).",
        auth=AUTH,
        request=AddressSerializer,
        parameters=[PUBLISHABLE_KEY_HEADER, FIELDS_PARAMETER],
        responses={
            200: CUSTOMER_ENVELOPE,
            **errors(401, 404, *BODY_ERRORS, unauthorized="bare"),
        },
    )
    def post(self, request):
        fields = query_fields(request)
        changes = validated(AddressSerializer, request.data)
        customer = current_customer(request)
        addresses = services.address_create(
            customer_id=customer.id,
            changes=changes,
            now=timezone.now(),
            read_addresses=fields.with_addresses,
        )
        return customer_response(
            customer,
            fields,
            addresses=addresses,
            email_verified=email_verified(request),
        )


class AddressDetailApi(APIView):
    authentication_classes = [CustomerAuthentication]
    permission_classes = [IsCustomer]

    @extend_schema(
        operation_id="store_customers_me_address_retrieve",
        summary="Read one of the logged-in customer's addresses",
        auth=AUTH,
        parameters=[
            PUBLISHABLE_KEY_HEADER,
            ADDRESS_ID_PARAMETER,
            ADDRESS_FIELDS_PARAMETER,
        ],
        responses={
            200: ADDRESS_ENVELOPE,
            **errors(400, 401, 404, 503, unauthorized="bare"),
        },
    )
    def get(self, request, address_id: str):
        fields = _address_fields(request)
        customer = current_customer(request)
        address = selectors.address_get(
            customer_id=customer.id, address_id=_address_id(address_id)
        )
        if address is None:
            raise address_not_found(address_id)
        return Response({"address": address_representation(address, fields)})

    @extend_schema(
        operation_id="store_customers_me_address_update",
        summary="Update one of the logged-in customer's addresses",
        description='Omitted keys are kept, `null` clears one, metadata merges (`""` '
        "deletes a key); a default flag sent `true` is taken from the others.",
        auth=AUTH,
        request=AddressSerializer,
        parameters=[PUBLISHABLE_KEY_HEADER, ADDRESS_ID_PARAMETER, FIELDS_PARAMETER],
        responses={
            200: CUSTOMER_ENVELOPE,
            **errors(401, 404, *BODY_ERRORS, unauthorized="bare"),
        },
    )
    def post(self, request, address_id: str):
        fields = query_fields(request)
        changes = validated(AddressSerializer, request.data)
        customer = current_customer(request)
        addresses = services.address_update(
            customer_id=customer.id,
            address_id=_address_id(address_id),
            changes=changes,
            now=timezone.now(),
            read_addresses=fields.with_addresses,
        )
        return customer_response(
            customer,
            fields,
            addresses=addresses,
            email_verified=email_verified(request),
        )

    @extend_schema(
        operation_id="store_customers_me_address_destroy",
        summary="Delete one of the logged-in customer's addresses",
        description="`id` is the customer's id and `parent` the customer, as Medusa "
        "answers.",
        auth=AUTH,
        parameters=[PUBLISHABLE_KEY_HEADER, ADDRESS_ID_PARAMETER, FIELDS_PARAMETER],
        responses={
            200: DELETED_RESPONSE,
            **errors(400, 401, 404, 503, unauthorized="bare"),
        },
    )
    def delete(self, request, address_id: str):
        fields = query_fields(request)
        customer = current_customer(request)
        addresses = services.address_delete(
            customer_id=customer.id,
            address_id=_address_id(address_id),
            read_addresses=fields.with_addresses,
        )
        parent = customer_representation(
            customer,
            fields,
            addresses=addresses,
            email_verified=email_verified(request),
        )
        return Response(
            {"id": customer.id, "object": "address", "deleted": True, "parent": parent}
        )
