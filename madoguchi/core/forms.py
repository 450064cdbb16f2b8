"""The base form of every page: residents', clerks' and providers' sandbox pages alike."""

from django import forms


class Form(forms.Form):
    """No trailing colon after labels: Japanese labels read as headings."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
