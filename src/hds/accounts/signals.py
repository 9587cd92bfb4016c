"""Signals other apps listen to when an account's keys change."""

from django.dispatch import Signal

# Sent inside the reset transaction with ``account``: drop whatever was sealed to the old keys.
account_keys_replaced = Signal()

# Sent inside the deletion transaction with ``account``, before its row goes: remove what it holds.
account_deleting = Signal()
