//! The local SageMaker Runtime: an HTTP/1.1 server speaking the same wire
//! protocol as AWS, with built-in models and fault injection.
