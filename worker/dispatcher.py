"""`python -m worker.dispatcher`: the webhook dispatcher process (worker/webhooks/)."""

from worker.webhooks.dispatcher import main

if __name__ == "__main__":
    main()
