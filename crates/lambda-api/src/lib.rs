//! ledge-lambda-api (in progress).
