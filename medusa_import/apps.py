from django.apps import AppConfig


class MedusaImportConfig(AppConfig):
    name = "medusa_import"
    verbose_name = "Import from Medusa"
