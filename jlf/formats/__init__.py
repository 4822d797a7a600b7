"""Project date formats (settings.FORMAT_MODULE_PATH): Django reads these before its own locale
files, so they win over the English defaults (localized formats are always on since Django 5.0;
settings.DATETIME_FORMAT alone would be ignored)."""
