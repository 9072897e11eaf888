"""Strict input: serializers that refuse unknown keys and fields that take
their type and nothing else, as Medusa's zod schemas do; `validated` parses
a body with one (an invalid body raises the 400 of api/errors.py)."""

from typing import Any

from rest_framework import serializers

from api.errors import js_string
from core.emails import email_parse
from core.errors import InvalidData


def validated(
    serializer_class: type[serializers.Serializer], data: Any
) -> dict[str, Any]:
    """Parse a body with an input serializer; invalid input raises the 400."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class StrictSerializer(serializers.Serializer):
    """Refuses unknown keys, as Medusa's `.strict()` zod schemas do."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = [key for key in data if key not in self.fields]
            if unknown:
                raise serializers.ValidationError(
                    {
                        "non_field_errors": [
                            f"Unrecognized fields: '{', '.join(map(str, unknown))}'"
                        ]
                    },
                    code="unrecognized",
                )
        return super().to_internal_value(data)


class StrictCharField(serializers.CharField):
    """A string and only a string: DRF's CharField would turn 123 into "123"."""

    default_error_messages = {
        "type": "Expected type: 'string' for field '{field}', got: '{got}'",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("trim_whitespace", False)
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("max_length", 255)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("type", field=self.field_name, got=js_string(data))
        return super().to_internal_value(data)


class StrictEmailField(StrictCharField):
    """An address in its normal form (core.emails): normalized first,
    then validated, so `"  Foo@Example.com "` is `foo@example.com` here as at
    register and login; what is no address is 400 `Invalid email address`."""

    default_error_messages = {
        **StrictCharField.default_error_messages,
        "invalid_email": "Invalid email address",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_blank", False)
        kwargs.setdefault("max_length", 254)  # of the text sent; the normal
        super().__init__(**kwargs)  # form's length is email_parse's to check
        self.error_messages["blank"] = "Invalid email address"

    def to_internal_value(self, data):
        try:
            return email_parse(super().to_internal_value(data))
        except InvalidData:
            self.fail("invalid_email")


class MetadataField(serializers.DictField):
    default_error_messages = {
        "not_a_dict": "Expected type: 'record' for field '{field}', got: '{got}'",
    }

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            self.fail("not_a_dict", field=self.field_name, got=js_string(data))
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """`true` or `false` and nothing else: DRF's BooleanField would take
    "yes", 1 and "on"."""

    default_error_messages = {
        "type": "Expected type: 'boolean' for field '{field}', got: '{got}'",
    }

    def validate_empty_values(self, data):
        if data is None:  # not nullable: a wrong type, in zod's words
            self.fail("type", field=self.field_name, got=js_string(data))
        return super().validate_empty_values(data)

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("type", field=self.field_name, got=js_string(data))
        return data


class BoundedCharField(StrictCharField):
    """A string of at most `max_length` characters, refused in zod's words
    (DRF's message does not name the field)."""

    default_error_messages = {
        **StrictCharField.default_error_messages,
        "too_big": "Value for field '{field}' too big, expected at most: '{max}'",
    }

    def to_internal_value(self, data):
        if isinstance(data, str) and len(data) > self.max_length:
            self.fail("too_big", field=self.field_name, max=self.max_length)
        return super().to_internal_value(data)
