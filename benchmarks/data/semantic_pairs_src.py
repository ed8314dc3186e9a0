# Source of semantic_pairs.json (kept for review; regenerate with: python semantic_pairs_src.py).
# Each base task of a sample agent has paraphrases (same request: a cached answer is right for
# them) and near-misses (similar wording, different request: a cached answer would be wrong).
# Written by hand for claude-force's semantic-cache benchmark.
import hashlib
import json
from pathlib import Path

B = [
    (
        "python-expert",
        "Write a Python function that removes duplicate items from a list while keeping their order",
        [
            "Write a Python function that deduplicates a list but preserves the original order",
            "Create a Python function to drop repeated elements from a list, keeping the first occurrence order",
            "Implement a Python function which removes duplicates from a list without changing the order of the items",
        ],
        [
            (
                "tech",
                "Write a JavaScript function that removes duplicate items from a list while keeping their order",
            ),
            (
                "negation",
                "Write a Python function that removes duplicate items from a list without keeping their order",
            ),
            (
                "object",
                "Write a Python function that removes empty strings from a list while keeping their order",
            ),
        ],
    ),
    (
        "python-expert",
        "Add type hints to every function in utils.py",
        [
            "Annotate all the functions in utils.py with type hints",
            "Put type annotations on each function of utils.py",
            "Make every function in utils.py fully type-hinted",
        ],
        [
            ("file", "Add type hints to every function in helpers.py"),
            ("opposite", "Remove type hints from every function in utils.py"),
            (
                "scope",
                "Add type hints to every function in utils.py, then make mypy strict mode pass and add tests for each function",
            ),
        ],
    ),
    (
        "python-expert",
        "Convert the download script to use asyncio and aiohttp instead of threads",
        [
            "Rewrite the download script with asyncio and aiohttp rather than threads",
            "Port the downloader script from threads to asyncio with aiohttp",
            "Replace the threads in the download script with asyncio and aiohttp",
        ],
        [
            (
                "opposite",
                "Convert the download script to use threads instead of asyncio and aiohttp",
            ),
            ("object", "Convert the upload script to use asyncio and aiohttp instead of threads"),
            ("tech", "Convert the download script to use asyncio and httpx instead of threads"),
        ],
    ),
    (
        "python-expert",
        "Write a function that parses ISO 8601 dates and returns datetime objects",
        [
            "Implement a function to parse ISO 8601 date strings into datetime objects",
            "Create a function which turns ISO 8601 dates into datetime objects",
            "Write a parser function for ISO 8601 dates that gives back datetime objects",
        ],
        [
            ("number", "Write a function that parses RFC 2822 dates and returns datetime objects"),
            ("opposite", "Write a function that formats datetime objects as ISO 8601 dates"),
            (
                "object",
                "Write a function that parses ISO 8601 durations and returns timedelta objects",
            ),
        ],
    ),
    (
        "python-expert",
        "Package the project with pyproject.toml so it can be published on PyPI",
        [
            "Set up pyproject.toml packaging for the project so we can publish it to PyPI",
            "Make the project installable and publishable on PyPI using pyproject.toml",
            "Prepare a pyproject.toml for the project so that it can be uploaded to PyPI",
        ],
        [
            ("file", "Package the project with setup.py so it can be published on PyPI"),
            (
                "object",
                "Package the project with pyproject.toml so it can be published on conda-forge",
            ),
            (
                "negation",
                "Package the project without pyproject.toml so it can be published on PyPI",
            ),
        ],
    ),
    (
        "code-reviewer",
        "Review the pull request that changes the payment retry logic",
        [
            "Review the PR that modifies how payments are retried",
            "Do a code review of the pull request changing the payment retry logic",
            "Look over the pull request that alters the retry logic for payments",
        ],
        [
            ("object", "Review the pull request that changes the email retry logic"),
            ("number", "Review pull request 482 that changes the payment retry logic"),
            ("opposite", "Write the pull request that changes the payment retry logic"),
        ],
    ),
    (
        "code-reviewer",
        "Check this diff for readability problems and unclear variable names",
        [
            "Review this diff for readability issues and confusing variable names",
            "Look at this diff and point out hard-to-read code and unclear variable names",
            "Go through this diff for readability problems and badly named variables",
        ],
        [
            (
                "negation",
                "Check this diff for problems other than readability and variable names, not style",
            ),
            ("object", "Check this diff for race conditions and unclear locking"),
            (
                "scope",
                "Check this diff for readability problems and unclear variable names, then rewrite every function, add docstrings and write unit tests for all of them",
            ),
        ],
    ),
    (
        "code-reviewer",
        "Review the new caching class for correctness and thread safety",
        [
            "Check the new caching class for correctness and thread-safety issues",
            "Do a review of the new cache class: is it correct and thread safe?",
            "Examine the new caching class for bugs and thread safety problems",
        ],
        [
            ("object", "Review the new logging class for correctness and thread safety"),
            ("identifier", "Review the new LRUCache class for correctness and thread safety"),
            ("opposite", "Review the old caching class for correctness and thread safety"),
        ],
    ),
    (
        "code-reviewer",
        "Give feedback on the error handling in the checkout module",
        [
            "Review how the checkout module handles errors and give feedback",
            "Comment on the error handling of the checkout module",
            "Provide feedback about error handling in the checkout module",
        ],
        [
            ("object", "Give feedback on the error handling in the shipping module"),
            ("object", "Give feedback on the logging in the checkout module"),
            ("file", "Give feedback on the error handling in checkout/views.py"),
        ],
    ),
    (
        "code-reviewer",
        "Assess whether this function follows the single responsibility principle",
        [
            "Check if this function sticks to the single responsibility principle",
            "Evaluate whether this function respects the single responsibility principle",
            "Does this function follow the single responsibility principle? Assess it",
        ],
        [
            ("object", "Assess whether this class follows the open closed principle"),
            (
                "negation",
                "Assess why this function does not need the single responsibility principle",
            ),
            ("object", "Assess whether this function follows the dependency inversion principle"),
        ],
    ),
    (
        "security-specialist",
        "Audit the login endpoint for SQL injection vulnerabilities",
        [
            "Check the login endpoint for SQL injection flaws",
            "Look for SQL injection vulnerabilities in the login endpoint",
            "Review the login endpoint for any SQL injection weaknesses",
        ],
        [
            ("object", "Audit the login endpoint for cross-site scripting vulnerabilities"),
            ("object", "Audit the search endpoint for SQL injection vulnerabilities"),
            ("tech", "Audit the login endpoint for NoSQL injection vulnerabilities in MongoDB"),
        ],
    ),
    (
        "security-specialist",
        "An API key was committed to the repository; tell us how to respond",
        [
            "Someone pushed an API key to the repo. What should we do about it?",
            "We accidentally committed an API key to the repository; how do we respond?",
            "How should we react now that an API key has been committed to our repository?",
        ],
        [
            (
                "negation",
                "An API key was almost committed to the repository but was not; how do we prevent it next time?",
            ),
            (
                "object",
                "A database password was committed to the repository; tell us how to respond",
            ),
            ("tech", "An API key was committed to the GitLab repository; tell us how to respond"),
        ],
    ),
    (
        "security-specialist",
        "Check whether our JWT validation is vulnerable to algorithm confusion",
        [
            "Is our JWT validation open to algorithm confusion attacks? Check it",
            "Verify that our JWT checking cannot be tricked by algorithm confusion",
            "Review our JWT validation for algorithm confusion weaknesses",
        ],
        [
            ("object", "Check whether our JWT validation is vulnerable to token replay"),
            ("tech", "Check whether our SAML validation is vulnerable to algorithm confusion"),
            ("opposite", "Check whether our JWT signing is vulnerable to algorithm confusion"),
        ],
    ),
    (
        "security-specialist",
        "Make sure passwords are hashed with bcrypt and a cost factor of 12",
        [
            "Ensure that passwords are hashed using bcrypt with cost factor 12",
            "Verify we hash passwords with bcrypt at a cost factor of twelve",
            "Check that password hashing uses bcrypt with a cost of 12",
        ],
        [
            ("number", "Make sure passwords are hashed with bcrypt and a cost factor of 10"),
            ("tech", "Make sure passwords are hashed with argon2 and a cost factor of 12"),
            ("negation", "Make sure passwords are not hashed with bcrypt and a cost factor of 12"),
        ],
    ),
    (
        "security-specialist",
        "Threat-model the file upload feature against the OWASP Top 10",
        [
            "Do a threat model of the file upload feature using the OWASP Top 10",
            "Analyse the threats to the file upload feature with the OWASP Top 10 as a checklist",
            "Build a threat model for file uploads based on the OWASP Top 10",
        ],
        [
            ("object", "Threat-model the password reset feature against the OWASP Top 10"),
            ("number", "Threat-model the file upload feature against the OWASP Top 10 of 2017"),
            ("object", "Threat-model the file download feature against the OWASP Top 10"),
        ],
    ),
    (
        "bug-investigator",
        "The nightly job crashes with KeyError: 'user_id'; find the root cause",
        [
            "Find out why the nightly job fails with KeyError: 'user_id'",
            "Investigate the root cause of the KeyError: 'user_id' crash in the nightly job",
            "Our nightly job dies with KeyError: 'user_id'. What is the root cause?",
        ],
        [
            (
                "identifier",
                "The nightly job crashes with KeyError: 'order_id'; find the root cause",
            ),
            ("object", "The nightly job crashes with a MemoryError; find the root cause"),
            ("object", "The hourly job crashes with KeyError: 'user_id'; find the root cause"),
        ],
    ),
    (
        "bug-investigator",
        "Customers are sometimes charged twice for one order; find out why",
        [
            "Some orders get charged twice; investigate why this happens",
            "Find the cause of customers occasionally being billed twice for a single order",
            "Why are customers sometimes charged two times for one order? Investigate",
        ],
        [
            ("number", "Customers are sometimes charged three times for one order; find out why"),
            ("negation", "Customers are sometimes not charged at all for an order; find out why"),
            ("object", "Customers sometimes receive two shipments for one order; find out why"),
        ],
    ),
    (
        "bug-investigator",
        "This test passes locally but fails intermittently in CI; figure out why",
        [
            "Find out why this test is flaky in CI although it passes on my machine",
            "The test passes locally yet fails randomly in CI. Work out the reason",
            "Investigate why this test fails now and then in CI while it always passes locally",
        ],
        [
            ("opposite", "This test fails locally but passes in CI; figure out why"),
            ("negation", "This test never passes in CI; figure out why"),
            (
                "tech",
                "This test passes locally but fails intermittently in Jenkins on Windows; figure out why",
            ),
        ],
    ),
    (
        "bug-investigator",
        "After upgrading to version 3.2 the CSV export produces empty files",
        [
            "Since the upgrade to version 3.2, the CSV export writes empty files",
            "The CSV export has produced empty files ever since we upgraded to version 3.2",
            "Upgrading to version 3.2 made the CSV export generate empty files",
        ],
        [
            ("number", "After upgrading to version 3.3 the CSV export produces empty files"),
            ("tech", "After upgrading to version 3.2 the JSON export produces empty files"),
            ("opposite", "After upgrading to version 3.2 the CSV import produces empty files"),
        ],
    ),
    (
        "bug-investigator",
        "The app freezes when users click save twice quickly; diagnose the problem",
        [
            "Diagnose why the app hangs when someone double-clicks save",
            "Figure out why clicking save twice in a row makes the app freeze",
            "The application locks up if the save button is clicked twice fast. Diagnose it",
        ],
        [
            (
                "object",
                "The app freezes when users click delete twice quickly; diagnose the problem",
            ),
            ("opposite", "The app crashes when users click save once; diagnose the problem"),
            (
                "tech",
                "The Android app freezes when users click save twice quickly; diagnose the problem",
            ),
        ],
    ),
    (
        "test-engineer",
        "Write pytest tests for the invoice total calculation",
        [
            "Create pytest tests covering the invoice total calculation",
            "Add pytest unit tests for calculating invoice totals",
            "Write tests with pytest for how the invoice total is calculated",
        ],
        [
            ("tech", "Write unittest tests for the invoice total calculation"),
            ("object", "Write pytest tests for the invoice tax calculation"),
            (
                "scope",
                "Write pytest tests for the invoice total calculation, plus load tests, mutation tests, a CI job that runs them nightly and a coverage report",
            ),
        ],
    ),
    (
        "test-engineer",
        "Add regression tests for the date rounding bug we fixed in issue 231",
        [
            "Write regression tests covering the date rounding bug fixed in issue 231",
            "Create tests that guard against the date rounding bug from issue 231 coming back",
            "Add tests so the date rounding bug fixed in issue 231 cannot regress",
        ],
        [
            ("number", "Add regression tests for the date rounding bug we fixed in issue 213"),
            ("object", "Add regression tests for the currency rounding bug we fixed in issue 231"),
            (
                "negation",
                "Explain why no regression tests are needed for the date rounding bug we fixed in issue 231",
            ),
        ],
    ),
    (
        "test-engineer",
        "Mock the payment client so the checkout tests run without network access",
        [
            "Make the checkout tests run offline by mocking the payment client",
            "Replace the payment client with a mock so checkout tests need no network",
            "Stub out the payment client so that the checkout tests do not hit the network",
        ],
        [
            ("object", "Mock the email client so the checkout tests run without network access"),
            (
                "opposite",
                "Remove the mock of the payment client so the checkout tests use the real network",
            ),
            ("object", "Mock the payment client so the refund tests run without network access"),
        ],
    ),
    (
        "test-engineer",
        "Raise the test coverage of the parser module to 90 percent",
        [
            "Increase the parser module's test coverage to 90%",
            "Get the parser module to 90 percent test coverage",
            "Add tests until the parser module reaches 90% coverage",
        ],
        [
            ("number", "Raise the test coverage of the parser module to 80 percent"),
            ("object", "Raise the test coverage of the lexer module to 90 percent"),
            ("opposite", "Reduce the test run time of the parser module by 90 percent"),
        ],
    ),
    (
        "test-engineer",
        "Design a test strategy for the checkout service covering unit and integration tests",
        [
            "Plan how to test the checkout service with unit tests and integration tests",
            "Propose a testing strategy for the checkout service, with unit and integration tests",
            "Come up with a unit and integration test strategy for the checkout service",
        ],
        [
            (
                "object",
                "Design a test strategy for the search service covering unit and integration tests",
            ),
            (
                "scope",
                "Design a test strategy for the checkout service covering unit, integration, contract, load, chaos and security tests with tooling and budgets for each",
            ),
            ("negation", "Design a test strategy for the checkout service without unit tests"),
        ],
    ),
    (
        "document-writer",
        "Write a README with installation and quick start sections",
        [
            "Create a README that has installation and quick start sections",
            "Draft a README including an installation section and a quick start",
            "Write the README: installation instructions and a quick start",
        ],
        [
            (
                "human-language",
                "Write a README in Spanish with installation and quick start sections",
            ),
            ("object", "Write a CONTRIBUTING guide with installation and quick start sections"),
            ("negation", "Write a README without installation and quick start sections"),
        ],
    ),
    (
        "document-writer",
        "Draft the changelog entry for release 2.3",
        [
            "Write the changelog entry for the 2.3 release",
            "Prepare the 2.3 release's changelog entry",
            "Compose the entry in the changelog for release 2.3",
        ],
        [
            ("number", "Draft the changelog entry for release 2.4"),
            ("object", "Draft the release announcement blog post for release 2.3"),
            ("number", "Draft the changelog entry for release 3.0"),
        ],
    ),
    (
        "document-writer",
        "Summarise this incident report in five bullet points for managers",
        [
            "Write a five-bullet summary of this incident report for managers",
            "Condense this incident report into 5 bullet points for management",
            "For managers, summarise the incident report in five bullets",
        ],
        [
            ("number", "Summarise this incident report in three bullet points for managers"),
            ("object", "Summarise this incident report in five bullet points for engineers"),
            (
                "human-language",
                "Summarise this incident report in five bullet points for managers, in German",
            ),
        ],
    ),
    (
        "document-writer",
        "Write a getting-started guide for new contributors",
        [
            "Create a getting started guide aimed at new contributors",
            "Draft a guide that helps new contributors get started",
            "Write an onboarding guide so new contributors can get started",
        ],
        [
            ("object", "Write a getting-started guide for new users"),
            ("object", "Write a release guide for maintainers"),
            ("human-language", "Write a getting-started guide for new contributors in Japanese"),
        ],
    ),
    (
        "document-writer",
        "Explain our deployment process in plain language for the wiki",
        [
            "Describe how we deploy, in plain language, for a wiki page",
            "Write a plain-language explanation of our deployment process for the wiki",
            "For the wiki, explain in simple words how our deployment process works",
        ],
        [
            ("object", "Explain our incident response process in plain language for the wiki"),
            ("opposite", "Explain our rollback process in technical detail for the wiki"),
            (
                "human-language",
                "Explain our deployment process in plain language for the wiki, in French",
            ),
        ],
    ),
    (
        "api-documenter",
        "Write an OpenAPI 3 spec for the orders REST API",
        [
            "Produce an OpenAPI 3 specification for our orders REST API",
            "Create the OpenAPI 3 document describing the orders REST API",
            "Document the orders REST API as an OpenAPI 3 spec",
        ],
        [
            ("number", "Write an OpenAPI 2 spec for the orders REST API"),
            ("object", "Write an OpenAPI 3 spec for the customers REST API"),
            ("tech", "Write a GraphQL schema for the orders API"),
        ],
    ),
    (
        "api-documenter",
        "Document every endpoint of the user service with request and response examples",
        [
            "Write documentation for all user service endpoints, including request and response examples",
            "For each endpoint of the user service, document it with example requests and responses",
            "Document all the user service endpoints and give request and response examples",
        ],
        [
            (
                "object",
                "Document every endpoint of the billing service with request and response examples",
            ),
            ("negation", "Document every endpoint of the user service without examples"),
            ("object", "Document every event of the user service with payload examples"),
        ],
    ),
    (
        "api-documenter",
        "List the error codes our public API returns and explain each one",
        [
            "Explain every error code that our public API can return",
            "Give a list of the public API's error codes with an explanation of each",
            "Document which error codes the public API returns and what each means",
        ],
        [
            ("opposite", "List the error codes our internal API returns and explain each one"),
            ("number", "List the 4xx error codes our public API returns and explain each one"),
            ("object", "List the rate limits our public API enforces and explain each one"),
        ],
    ),
    (
        "api-documenter",
        "Describe the pagination parameters of the search endpoint for API consumers",
        [
            "Document the search endpoint's pagination parameters for API users",
            "Explain to API consumers how pagination parameters work on the search endpoint",
            "Write up the pagination parameters of the search endpoint for consumers of the API",
        ],
        [
            (
                "object",
                "Describe the filtering parameters of the search endpoint for API consumers",
            ),
            (
                "object",
                "Describe the pagination parameters of the orders endpoint for API consumers",
            ),
            (
                "identifier",
                "Describe the page_size and cursor parameters of the search endpoint for API consumers",
            ),
        ],
    ),
    (
        "api-documenter",
        "Write reference docs for the webhook payloads we send to partners",
        [
            "Document the webhook payloads that we send to our partners",
            "Create reference documentation for the partner webhook payloads",
            "Write reference documentation describing the webhook payloads sent to partners",
        ],
        [
            ("opposite", "Write reference docs for the webhook payloads we receive from partners"),
            ("object", "Write reference docs for the CSV files we send to partners"),
            (
                "human-language",
                "Write reference docs for the webhook payloads we send to partners, in Portuguese",
            ),
        ],
    ),
    (
        "backend-architect",
        "Design a notification service that sends email, SMS and push messages",
        [
            "Architect a notification service for email, SMS and push notifications",
            "Design the architecture of a service that delivers email, SMS and push notifications",
            "Propose a design for a notification service sending email, SMS and push",
        ],
        [
            ("object", "Design a notification service that sends email only"),
            (
                "negation",
                "Design a notification service that sends email and push messages but no SMS",
            ),
            (
                "scope",
                "Design a notification service that sends email, SMS and push messages, with user preferences, quiet hours, templates in 12 languages, A/B testing and delivery analytics",
            ),
        ],
    ),
    (
        "backend-architect",
        "Should we split the monolith into microservices? Weigh the trade-offs",
        [
            "Weigh the pros and cons of breaking our monolith into microservices",
            "What are the trade-offs of splitting the monolith into microservices?",
            "Evaluate whether to break the monolith up into microservices, with the trade-offs",
        ],
        [
            (
                "opposite",
                "Should we merge our microservices back into a monolith? Weigh the trade-offs",
            ),
            ("object", "Should we move the monolith to serverless functions? Weigh the trade-offs"),
            ("number", "Should we split the monolith into 2 services? Weigh the trade-offs"),
        ],
    ),
    (
        "backend-architect",
        "Choose between REST and gRPC for communication between our services",
        [
            "Should our services talk to each other over REST or gRPC? Decide",
            "Pick REST or gRPC for service-to-service communication",
            "Compare REST and gRPC and choose one for our inter-service communication",
        ],
        [
            ("tech", "Choose between REST and GraphQL for communication between our services"),
            ("tech", "Choose between Kafka and RabbitMQ for communication between our services"),
            ("object", "Choose between REST and gRPC for our public mobile API"),
        ],
    ),
    (
        "backend-architect",
        "Plan how the backend will handle ten times the current traffic",
        [
            "Plan for the backend to cope with 10x today's traffic",
            "How should the backend scale to ten times current traffic? Make a plan",
            "Make a plan so the backend can handle 10 times the traffic we have now",
        ],
        [
            ("number", "Plan how the backend will handle a hundred times the current traffic"),
            ("opposite", "Plan how the backend will handle half the current traffic at lower cost"),
            ("object", "Plan how the database will handle ten times the current data volume"),
        ],
    ),
    (
        "backend-architect",
        "Design an idempotent order API that survives retries from clients",
        [
            "Design the order API to be idempotent so client retries are safe",
            "Create an order API design where repeated client requests do not create duplicate orders",
            "Architect an idempotent order API that tolerates client retries",
        ],
        [
            ("object", "Design an idempotent payment API that survives retries from clients"),
            (
                "negation",
                "Design an order API that does not need idempotency because clients never retry",
            ),
            ("object", "Design an idempotent order API that survives a database failover"),
        ],
    ),
    (
        "database-architect",
        "Design the PostgreSQL schema for a library lending system",
        [
            "Create a PostgreSQL schema for a library's book lending system",
            "Model the tables in PostgreSQL for a library lending application",
            "Design the database schema, in PostgreSQL, for lending books in a library",
        ],
        [
            ("tech", "Design the MySQL schema for a library lending system"),
            ("object", "Design the PostgreSQL schema for a hotel booking system"),
            ("tech", "Design the MongoDB collections for a library lending system"),
        ],
    ),
    (
        "database-architect",
        "Which index would speed up this query on the orders table?",
        [
            "Suggest an index that makes this orders table query faster",
            "What index should we add to the orders table to speed up this query?",
            "Recommend an index to accelerate this query against the orders table",
        ],
        [
            ("object", "Which index would speed up this query on the customers table?"),
            ("opposite", "Which index on the orders table can we drop without slowing this query?"),
            ("object", "Which partitioning would speed up this query on the orders table?"),
        ],
    ),
    (
        "database-architect",
        "Rename a column on a 200 million row table without downtime",
        [
            "Do a zero-downtime column rename on a table with 200 million rows",
            "How can we rename a column in a 200 million row table with no downtime?",
            "Plan an online rename of a column on a 200M-row table without taking it down",
        ],
        [
            ("number", "Rename a column on a 2 million row table without downtime"),
            ("object", "Drop a column on a 200 million row table without downtime"),
            ("object", "Change a column type on a 200 million row table without downtime"),
        ],
    ),
    (
        "database-architect",
        "Partition the audit_log table by month",
        [
            "Set up monthly partitions for the audit_log table",
            "Split the audit_log table into partitions by month",
            "Make the audit_log table partitioned per month",
        ],
        [
            ("identifier", "Partition the event_log table by month"),
            ("object", "Partition the audit_log table by week"),
            ("opposite", "Merge the monthly partitions of the audit_log table"),
        ],
    ),
    (
        "database-architect",
        "Normalise the customer and address tables to third normal form",
        [
            "Bring the customer and address tables into 3NF",
            "Normalize the customer and address tables up to the third normal form",
            "Restructure the customer and address tables so they are in third normal form",
        ],
        [
            ("number", "Normalise the customer and address tables to second normal form"),
            ("opposite", "Denormalise the customer and address tables for read speed"),
            ("object", "Normalise the product and price tables to third normal form"),
        ],
    ),
    (
        "devops-architect",
        "Set up a GitHub Actions pipeline that runs the tests on every pull request",
        [
            "Create a GitHub Actions workflow to run the tests for each pull request",
            "Configure GitHub Actions so the tests run on every PR",
            "Add a GitHub Actions CI pipeline that executes the test suite on all pull requests",
        ],
        [
            ("tech", "Set up a GitLab CI pipeline that runs the tests on every merge request"),
            ("object", "Set up a GitHub Actions pipeline that deploys on every pull request"),
            ("object", "Set up a GitHub Actions pipeline that runs the tests every night"),
        ],
    ),
    (
        "devops-architect",
        "Write a Dockerfile for the Python web service",
        [
            "Create a Dockerfile for our Python web service",
            "Containerise the Python web service with a Dockerfile",
            "Write the Dockerfile that builds the Python web service image",
        ],
        [
            ("tech", "Write a Dockerfile for the Go web service"),
            ("object", "Write a docker-compose file for the Python web service and its database"),
            ("tech", "Write a Kubernetes deployment for the Python web service"),
        ],
    ),
    (
        "devops-architect",
        "Deploy the application to Kubernetes with rolling updates and zero downtime",
        [
            "Roll out the app on Kubernetes with zero-downtime rolling updates",
            "Set up a Kubernetes deployment for the application using rolling updates so there is no downtime",
            "Use rolling updates to deploy the application to Kubernetes without downtime",
        ],
        [
            ("object", "Deploy the application to Kubernetes with blue-green deployments"),
            ("tech", "Deploy the application to AWS ECS with rolling updates and zero downtime"),
            ("opposite", "Roll back the application on Kubernetes after a failed rolling update"),
        ],
    ),
    (
        "devops-architect",
        "Add alerts when the error rate exceeds 5 percent for 10 minutes",
        [
            "Alert us when the error rate is above 5% for 10 minutes",
            "Create an alert that fires if the error rate stays over 5 percent for ten minutes",
            "Set up alerting for an error rate higher than 5% lasting 10 minutes",
        ],
        [
            ("number", "Add alerts when the error rate exceeds 1 percent for 10 minutes"),
            ("number", "Add alerts when the error rate exceeds 5 percent for 30 minutes"),
            ("object", "Add alerts when the latency exceeds 5 seconds for 10 minutes"),
        ],
    ),
    (
        "devops-architect",
        "Manage the database password with a secrets manager instead of environment files",
        [
            "Move the database password out of env files into a secrets manager",
            "Store the database password in a secrets manager rather than in environment files",
            "Use a secrets manager for the database password instead of .env files",
        ],
        [
            (
                "opposite",
                "Move the database password from a secrets manager into environment files",
            ),
            (
                "object",
                "Manage the TLS certificates with a secrets manager instead of environment files",
            ),
            (
                "tech",
                "Manage the database password with HashiCorp Vault on Azure instead of environment files",
            ),
        ],
    ),
    (
        "performance-engineer",
        "The report endpoint takes 8 seconds; profile it and make it faster",
        [
            "Profile the report endpoint, which takes 8 seconds, and speed it up",
            "Our report endpoint needs 8 seconds to respond. Profile and optimise it",
            "Make the 8-second report endpoint faster after profiling it",
        ],
        [
            ("number", "The report endpoint takes 800 milliseconds; profile it and make it faster"),
            ("object", "The export endpoint takes 8 seconds; profile it and make it faster"),
            (
                "negation",
                "The report endpoint takes 8 seconds; explain why it cannot be made faster without profiling",
            ),
        ],
    ),
    (
        "performance-engineer",
        "Find the memory leak that makes the worker grow until it is killed",
        [
            "The worker's memory keeps growing until it gets killed; find the leak",
            "Track down the memory leak causing the worker to grow and be killed",
            "Locate the leak that makes the worker process's memory grow until it is killed",
        ],
        [
            (
                "object",
                "Find the file handle leak that makes the worker fail until it is restarted",
            ),
            ("object", "Find the memory leak that makes the web server grow until it is killed"),
            ("opposite", "Find why the worker uses too little memory and is slow"),
        ],
    ),
    (
        "performance-engineer",
        "Reduce the p99 latency of the search service below 200 ms",
        [
            "Get the search service's p99 latency under 200 ms",
            "Bring the p99 latency of search below 200 milliseconds",
            "Lower the search service p99 latency to less than 200 ms",
        ],
        [
            ("number", "Reduce the p99 latency of the search service below 100 ms"),
            ("number", "Reduce the p50 latency of the search service below 200 ms"),
            ("object", "Reduce the p99 latency of the checkout service below 200 ms"),
        ],
    ),
    (
        "performance-engineer",
        "Load-test the API to find how many requests per second it can handle",
        [
            "Run a load test to measure the API's maximum requests per second",
            "Find out with a load test how many requests a second the API sustains",
            "Determine the API's throughput limit in requests per second with load testing",
        ],
        [
            (
                "object",
                "Load-test the API to find how many concurrent websocket connections it can handle",
            ),
            ("tech", "Load-test the database to find how many queries per second it can handle"),
            ("number", "Load-test the API to check it handles 5000 requests per second"),
        ],
    ),
    (
        "performance-engineer",
        "Speed up this loop that processes one million rows with pandas",
        [
            "Make this pandas loop over a million rows faster",
            "Optimise this loop which handles 1,000,000 rows in pandas",
            "This pandas loop processes a million rows; speed it up",
        ],
        [
            ("number", "Speed up this loop that processes ten million rows with pandas"),
            ("tech", "Speed up this loop that processes one million rows with polars"),
            ("opposite", "Speed up this loop that writes one million rows with pandas"),
        ],
    ),
    (
        "refactoring-specialist",
        "Split the 2000-line orders.py module into smaller modules without changing behaviour",
        [
            "Break orders.py, which is 2000 lines long, into smaller modules while keeping its behaviour",
            "Refactor the 2000-line orders.py into several smaller modules with no change in behaviour",
            "Divide the 2000-line module orders.py into smaller modules, preserving behaviour",
        ],
        [
            (
                "file",
                "Split the 2000-line billing.py module into smaller modules without changing behaviour",
            ),
            (
                "number",
                "Split the 500-line orders.py module into smaller modules without changing behaviour",
            ),
            (
                "opposite",
                "Merge the small order modules into one orders.py module without changing behaviour",
            ),
        ],
    ),
    (
        "refactoring-specialist",
        "Remove the duplicated validation code from the three request handlers",
        [
            "Eliminate the copy-pasted validation code in the three request handlers",
            "Deduplicate the validation logic repeated across the three request handlers",
            "Get rid of the validation code that is duplicated in the three request handlers",
        ],
        [
            ("number", "Remove the duplicated validation code from the five request handlers"),
            ("object", "Remove the duplicated logging code from the three request handlers"),
            ("opposite", "Add validation code to the three request handlers"),
        ],
    ),
    (
        "refactoring-specialist",
        "Restructure this 300-line function with deeply nested conditionals",
        [
            "Refactor this 300 line function that has deeply nested if statements",
            "Untangle the deep nesting of conditionals in this 300-line function",
            "Clean up this 300-line function and its deeply nested conditionals",
        ],
        [
            ("number", "Restructure this 30-line function with deeply nested conditionals"),
            ("object", "Restructure this 300-line class with deeply nested inheritance"),
            (
                "negation",
                "Restructure this 300-line function but keep the nested conditionals, do not flatten them",
            ),
        ],
    ),
    (
        "refactoring-specialist",
        "Replace the global config dictionary with dependency injection",
        [
            "Refactor away the global config dict in favour of dependency injection",
            "Use dependency injection instead of the global configuration dictionary",
            "Swap the global config dictionary for dependency injection",
        ],
        [
            ("opposite", "Replace dependency injection with a global config dictionary"),
            ("object", "Replace the global database connection with dependency injection"),
            ("object", "Replace the global config dictionary with environment variables"),
        ],
    ),
    (
        "refactoring-specialist",
        "Extract the shared date formatting logic into one helper function",
        [
            "Pull the common date formatting code out into a single helper function",
            "Move the duplicated date formatting logic into one helper",
            "Factor out the shared date formatting into a single helper function",
        ],
        [
            ("object", "Extract the shared currency formatting logic into one helper function"),
            ("object", "Extract the shared date formatting logic into a separate package"),
            ("opposite", "Inline the date formatting helper function back into every caller"),
        ],
    ),
]


def split_of(base: str) -> str:
    """Group split by base task (every pair of a base task lands on the same side)."""
    return "train" if int(hashlib.sha256(base.encode()).hexdigest(), 16) % 2 == 0 else "test"


def build() -> dict[str, object]:
    pairs = []
    for agent, base, same, different in B:
        split = split_of(base)
        for text in same:
            pairs.append(
                {
                    "agent": agent,
                    "cached": base,
                    "new": text,
                    "label": "hit",
                    "kind": "paraphrase",
                    "split": split,
                }
            )
        for kind, text in different:
            pairs.append(
                {
                    "agent": agent,
                    "cached": base,
                    "new": text,
                    "label": "miss",
                    "kind": kind,
                    "split": split,
                }
            )
    return {
        "description": "Task pairs for the sample agents: a cached task and a new task; label "
        "'hit' when the cached answer is right for the new task (paraphrase), 'miss' when it is "
        "not (near-miss of the given kind). Written by hand; split by base task.",
        "pairs": pairs,
    }


if __name__ == "__main__":
    out = Path(__file__).with_name("semantic_pairs.json")
    out.write_text(json.dumps(build(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    data = build()
    from collections import Counter

    print(len(data["pairs"]), Counter((p["split"], p["label"]) for p in data["pairs"]))
