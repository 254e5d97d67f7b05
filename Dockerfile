FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot bot
COPY handlers handlers
COPY triage triage
COPY workers workers
COPY locales locales
COPY bench bench
# Editable, so bot.i18n finds /app/locales beside the code.
RUN pip install --no-cache-dir -e . && \
    for d in sms telegram alerts; do pybabel compile -q -d locales -D $d; done
USER nobody
ENV SAJAG_DATA_DIR=/data
EXPOSE 8080
CMD ["sajag", "web"]
