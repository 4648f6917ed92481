//! Telling a store's throttling apart from its other failures.
//!
//! object_store keeps a failed response's HTTP status in an error type it
//! does not export, so a caller cannot tell "slow down" (429, or 503 as
//! Azure's `ServerBusy` and S3's `SlowDown` say it) from any other failure
//! without reading the message. The stores crashdsr opens send their
//! requests through [`Connector`]: it turns such a response into a typed
//! [`Throttled`] error that object_store retries as a request not carried
//! out (as it retries those statuses, with the same backoff), and that
//! [`crate::ErrorKind::Throttled`] is read from once the retries are spent.

use object_store::client::{
    ClientOptions, HttpClient, HttpConnector, HttpError, HttpErrorKind, HttpRequest, HttpResponse,
    HttpService, ReqwestConnector,
};

/// The store refused a request for its request rate.
#[derive(Debug, thiserror::Error)]
#[error("the store refused the request for its request rate (HTTP {status})")]
pub(crate) struct Throttled {
    status: u16,
}

/// Object store's HTTP client, with throttling answers turned into
/// [`Throttled`] errors.
#[derive(Debug, Default)]
pub(crate) struct Connector;

impl HttpConnector for Connector {
    fn connect(&self, options: &ClientOptions) -> object_store::Result<HttpClient> {
        let inner = ReqwestConnector::default().connect(options)?;
        Ok(HttpClient::new(Service(inner)))
    }
}

#[derive(Debug)]
struct Service(HttpClient);

#[async_trait::async_trait]
impl HttpService for Service {
    async fn call(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        let response = self.0.execute(req).await?;
        let status = response.status().as_u16();
        if status == 429 || status == 503 {
            // Refused, not carried out: a request object_store may send
            // again whatever its method, as it does on these statuses.
            return Err(HttpError::new(HttpErrorKind::Request, Throttled { status }));
        }
        Ok(response)
    }
}
