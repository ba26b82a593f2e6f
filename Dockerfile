FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml requirements.lock README.md ./
COPY bot ./bot
COPY adapters ./adapters
COPY knowledge ./knowledge
RUN pip install --no-cache-dir -c requirements.lock '.[slack,discord]'
RUN useradd --create-home careerbot
USER careerbot
ENV CAREERBOT_DATA_DIR=/home/careerbot/data
EXPOSE 3000
CMD ["careerbot", "run", "--port", "3000"]
