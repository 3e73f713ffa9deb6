from django.urls import path

from packyard.fellows import views

app_name = "fellows"

urlpatterns = [
    path("fellows/", views.roster, name="roster"),
    path("fellows/roster.json", views.roster_json, name="roster-json"),
    path("fellows/<int:year>-q<int:quarter>/", views.round_page, name="round"),
    path("fellows/nominate/", views.nominate, name="nominate"),
    path("fellows/nominations/", views.my_nominations, name="my-nominations"),
    path("fellows/nominations/<str:nomination_id>/", views.nomination, name="nomination"),
    path("fellows/review/", views.review, name="review"),
    path(
        "fellows/review/<str:nomination_id>/",
        views.review_nomination,
        name="review-nomination",
    ),
    path("fellows/invitation/<str:token>/", views.invitation, name="invitation"),
]
