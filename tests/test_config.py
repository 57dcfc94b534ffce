"""Start-up configuration: what production refuses, what development generates."""


import pytest

from chatapp.app import create_app
from config import Config, ProductionConfig, TestConfig


class ProductionNoSecrets(ProductionConfig):
    JWT_SECRET_KEY = ""
    MONGO_URI = ""


class ProductionShortSecret(ProductionConfig):
    JWT_SECRET_KEY = "short"
    MONGO_URI = "mongodb://127.0.0.1:1/chat"


@pytest.mark.parametrize("config", [ProductionNoSecrets, ProductionShortSecret])
def test_production_refuses_to_start_without_a_real_secret_and_database(config):
    with pytest.raises(RuntimeError, match="JWT_SECRET_KEY"):
        create_app(config)


def test_production_names_every_missing_setting():
    with pytest.raises(RuntimeError) as error:
        create_app(ProductionNoSecrets)
    assert "JWT_SECRET_KEY" in str(error.value) and "MONGO_URI" in str(error.value)


class DevelopmentNoSecret(Config):
    JWT_SECRET_KEY = ""
    MONGO_URI = ""
    ASYNC_MODE = "threading"


def test_development_generates_a_secret_and_says_so(caplog):
    app = create_app(DevelopmentNoSecret)
    assert len(app.config["JWT_SECRET_KEY"]) >= 32
    assert "JWT_SECRET_KEY is not set" in caplog.text
    assert "embedded in-memory database" in caplog.text and "NOT kept across restarts" in caplog.text
    # Another process gets another secret: a generated secret is never a fixed default.
    assert create_app(DevelopmentNoSecret).config["JWT_SECRET_KEY"] != app.config["JWT_SECRET_KEY"]


def test_unknown_async_mode_is_refused():
    with pytest.raises(RuntimeError, match="ASYNC_MODE"):
        create_app(TestConfig, ASYNC_MODE="asyncio-please")
