from django.contrib import admin
from django.urls import path

admin.site.site_header = "JLF Registrations"
admin.site.site_title = "JLF Registrations"
admin.site.index_title = "Operations"

urlpatterns = [
    path("admin/", admin.site.urls),
]
