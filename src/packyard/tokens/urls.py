from django.urls import path

from packyard.tokens import views

app_name = "tokens"

urlpatterns = [
    path("manage/account/tokens/", views.token_list, name="list"),
    path("manage/account/tokens/<uuid:token_id>/delete/", views.token_delete, name="delete"),
    path("manage/account/tokens/delete-all/", views.token_delete_all, name="delete-all"),
]
