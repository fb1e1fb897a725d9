"""``EncryptedTextField``: a text column whose stored value is ciphertext bound to its table, column and row.

The model must have a primary key known before saving (a UUID with a default). Plaintext is never
written through queries that bypass the model (``update()``, ``filter(field=...)``): they raise.
"""

from django.db import models

from intake import crypto


class _Ciphertext(bytes):
    """A stored value not yet decrypted: decryption waits until the attribute is read."""


class _DecryptOnRead:
    def __init__(self, field: "EncryptedTextField"):
        self.field = field

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        value = instance.__dict__.get(self.field.attname)
        if isinstance(value, _Ciphertext):
            value = crypto.open_text(value, self.field.context(instance))
            instance.__dict__[self.field.attname] = value
        return value

    def __set__(self, instance, value):
        instance.__dict__[self.field.attname] = value


class EncryptedTextField(models.BinaryField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("editable", True)
        super().__init__(*args, **kwargs)

    def contribute_to_class(self, cls, name, private_only=False):
        super().contribute_to_class(cls, name, private_only=private_only)
        setattr(cls, self.attname, _DecryptOnRead(self))

    def _check_str_default_value(self):
        return []  # the default is text, encrypted like any other value

    def context(self, instance) -> bytes:
        if instance.pk is None:
            raise ValueError(f"{type(instance).__name__} needs its primary key before {self.name} is encrypted")
        assert self.column is not None  # a concrete field has its column once on a model
        return crypto.field_context(self.model._meta.db_table, self.column, instance.pk)

    def pre_save(self, model_instance, add):
        value = model_instance.__dict__.get(self.attname)
        if value is None or isinstance(value, _Ciphertext):
            return value
        return _Ciphertext(crypto.seal_text(str(value), self.context(model_instance)))

    def from_db_value(self, value, expression, connection):
        return None if value is None else _Ciphertext(bytes(value))

    def to_python(self, value):
        return value

    def get_db_prep_value(self, value, connection, prepared=False):
        if value is None:
            return None
        if not isinstance(value, _Ciphertext):
            raise TypeError("an encrypted field is written only by saving its model instance")
        return connection.Database.Binary(bytes(value))

    def value_to_string(self, obj):
        raise TypeError("encrypted fields are not serialised")
