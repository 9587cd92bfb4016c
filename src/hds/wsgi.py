"""WSGI entry point (gunicorn ``hds.wsgi:application``)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hds.settings")
application = get_wsgi_application()
