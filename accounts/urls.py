from django.urls import path

from accounts import apis

auth_urlpatterns = [
    path("token/refresh", apis.AuthTokenRefreshApi.as_view()),
    path("session", apis.AuthSessionApi.as_view()),
    path("customer/providers", apis.AuthProvidersListApi.as_view()),
    path("customer/<str:provider>/register", apis.AuthRegisterApi.as_view()),
    path(
        "customer/<str:provider>/reset-password", apis.PasswordResetRequestApi.as_view()
    ),
    path("customer/<str:provider>/update", apis.PasswordUpdateApi.as_view()),
    path("customer/<str:provider>", apis.AuthLoginApi.as_view()),
]

store_urlpatterns = [
    path("customers", apis.CustomerCreateApi.as_view()),
    path("customers/me", apis.CustomerMeApi.as_view()),
    path("auth/signup", apis.SignupApi.as_view()),
]
