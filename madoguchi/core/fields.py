"""A model field whose value is stored encrypted with the master key (core.crypto)."""

from django.db import models

from . import crypto


class EncryptedTextField(models.TextField):
    """Text encrypted at rest (AES-GCM), bound to its table and column by the associated data.

    Python code sees the clear value; the database, a dump or a backup only the token. A value from
    before encryption was introduced is read as it is and encrypted the next time the row is saved
    (`manage.py rotate_secrets` saves them all). Lookups by value are not possible, by design.
    """

    def contribute_to_class(self, cls, name, *args, **kwargs):
        super().contribute_to_class(cls, name, *args, **kwargs)
        self.associated_data = f"{cls._meta.label_lower}.{name}"

    def from_db_value(self, value, expression, connection):
        if value is None or not crypto.is_token(value):
            return value
        return crypto.decrypt(value, self.associated_data).decode()

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if not value:
            return value
        return crypto.encrypt(value, self.associated_data)
