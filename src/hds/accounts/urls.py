from django.urls import path

from hds.accounts import views

app_name = "accounts"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("register/", views.register_choose, name="register"),
    path("register/patient/", views.register, {"role": "patient"}, name="register_patient"),
    path(
        "register/professional/",
        views.register,
        {"role": "professional"},
        name="register_professional",
    ),
    path("register/code/", views.code_done, name="register_done"),
    path("register/passport.pdf", views.passport_pdf, name="passport_pdf"),
    path("activate/", views.activate, name="activate"),
    path("activate/resend/", views.resend_activation, name="resend_activation"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("password/forgot/", views.forgot_password, name="forgot_password"),
    path("recover/", views.recover, name="recover"),
    path("reset/", views.reset, name="reset"),
    path("unlock/", views.unlock, name="unlock"),
    path("account/", views.account_view, name="account"),
    path("account/language/", views.set_account_language, name="account_language"),
    path("account/password/", views.change_password, name="change_password"),
    path("account/activation-code/", views.regenerate_code, name="regenerate_code"),
    path("account/delete/", views.delete_account, name="delete_account"),
    path("account/tokens/", views.api_tokens, name="api_tokens"),
    path("account/tokens/<uuid:token_id>/revoke/", views.revoke_api_token, name="revoke_api_token"),
]
