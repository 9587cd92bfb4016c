"""Signals other apps listen to when an account's keys change."""

from django.dispatch import Signal

# Sent inside the reset transaction with ``account``: drop whatever was sealed to the old keys.
account_keys_replaced = Signal()
