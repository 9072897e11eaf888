from django.urls import path

from otp import apis

store_urlpatterns = [
    path("auth/otp/send", apis.OtpSendApi.as_view()),
    path("auth/otp/verify", apis.OtpVerifyApi.as_view()),
]

auth_urlpatterns = [
    path("customer/email-otp", apis.OtpMedusaLoginApi.as_view()),
]
