from django.apps import AppConfig


class PackagesConfig(AppConfig):
    name = "packyard.packages"
    label = "packages"
    verbose_name = "Packages"
