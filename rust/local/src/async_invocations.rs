//! InvokeEndpointAsync against a local directory standing in for S3:
//! `s3://bucket/key` is `<data_dir>/bucket/key`, `file://` paths must lie
//! inside `<data_dir>`. Outputs and failures are written under the
//! `sagerun-local` bucket; the answer (202) names both locations.

use std::path::{Component, Path, PathBuf};

use crate::errors::ApiError;

/// The bucket the local runtime writes async results to.
pub const OUTPUT_BUCKET: &str = "sagerun-local";

#[derive(Debug, Clone)]
pub struct AsyncStore {
    root: Option<PathBuf>,
}

/// Where one async invocation's result goes, as S3 URIs and local paths.
#[derive(Debug, Clone)]
pub struct ResultLocations {
    pub output_uri: String,
    pub output_path: PathBuf,
    pub failure_uri: String,
    pub failure_path: PathBuf,
}

impl AsyncStore {
    pub fn new(root: Option<PathBuf>) -> AsyncStore {
        AsyncStore { root }
    }

    fn root(&self) -> Result<&Path, ApiError> {
        self.root.as_deref().ok_or_else(|| {
            ApiError::validation(
                "This local runtime has no data directory, so it cannot serve InvokeEndpointAsync.",
            )
        })
    }

    /// Maps an InputLocation to a file under the data directory.
    pub fn input_path(&self, location: &str) -> Result<PathBuf, ApiError> {
        let root = self.root()?;
        if let Some(rest) = location.strip_prefix("s3://") {
            let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() || key.is_empty() {
                return Err(ApiError::validation(format!(
                    "InputLocation {location} must be s3://bucket/key."
                )));
            }
            return Ok(root.join(bucket).join(relative(key, location)?));
        }
        if let Some(path) = location.strip_prefix("file://") {
            let path = Path::new(path);
            let inside =
                path.is_absolute() && relative(path.to_str().unwrap_or(""), location).is_ok();
            if inside && path.starts_with(root) {
                return Ok(path.to_owned());
            }
            return Err(ApiError::validation(format!(
                "InputLocation {location} must be a file inside the runtime's data directory {}.",
                root.display()
            )));
        }
        Err(ApiError::validation(format!(
            "InputLocation {location} must be an s3:// (or file://) URI."
        )))
    }

    pub fn result_locations(
        &self,
        endpoint: &str,
        inference_id: &str,
        path_extension: Option<&str>,
        filename: Option<&str>,
    ) -> Result<ResultLocations, ApiError> {
        let root = self.root()?;
        let mut output_key = format!("async-inference/output/{endpoint}/");
        if let Some(ext) = path_extension {
            output_key.push_str(ext.trim_matches('/'));
            output_key.push('/');
        }
        output_key.push_str(&filename.map_or_else(|| format!("{inference_id}.out"), str::to_owned));
        let failure_key = format!("async-inference/failures/{endpoint}/{inference_id}-error.out");
        let to_path = |key: &str| relative(key, key).map(|rel| root.join(OUTPUT_BUCKET).join(rel));
        Ok(ResultLocations {
            output_path: to_path(&output_key)?,
            failure_path: to_path(&failure_key)?,
            output_uri: format!("s3://{OUTPUT_BUCKET}/{output_key}"),
            failure_uri: format!("s3://{OUTPUT_BUCKET}/{failure_key}"),
        })
    }
}

/// A key as a relative path that cannot climb out of its directory.
fn relative(key: &str, location: &str) -> Result<PathBuf, ApiError> {
    let path = Path::new(key.trim_start_matches('/'));
    let safe = path.components().all(|c| matches!(c, Component::Normal(_)));
    if safe && !key.is_empty() {
        Ok(path.to_owned())
    } else {
        Err(ApiError::validation(format!(
            "{location} must not contain '..' or empty path segments."
        )))
    }
}

/// Writes a result file, creating its directories.
pub async fn write_result(path: &Path, data: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    // Written beside and renamed, so a reader never sees half a file.
    let tmp = path.with_extension("partial");
    tokio::fs::write(&tmp, data).await?;
    tokio::fs::rename(&tmp, path).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_map_into_the_data_dir() {
        let store = AsyncStore::new(Some(PathBuf::from("/data")));
        assert_eq!(
            store.input_path("s3://b/k/x.json").unwrap(),
            PathBuf::from("/data/b/k/x.json")
        );
        assert_eq!(
            store.input_path("file:///data/b/x").unwrap(),
            PathBuf::from("/data/b/x")
        );
        for bad in [
            "s3://b/../x",
            "s3://b",
            "s3://b/",
            "file:///etc/passwd",
            "file:///data/../etc",
            "http://x/y",
        ] {
            assert!(store.input_path(bad).is_err(), "{bad}");
        }
        let loc = store
            .result_locations("ep", "id1", Some("x/y"), None)
            .unwrap();
        assert_eq!(
            loc.output_uri,
            "s3://sagerun-local/async-inference/output/ep/x/y/id1.out"
        );
        assert_eq!(
            loc.output_path,
            PathBuf::from("/data/sagerun-local/async-inference/output/ep/x/y/id1.out")
        );
        assert!(store
            .result_locations("ep", "id", Some("../x"), None)
            .is_err());
        assert!(AsyncStore::new(None).input_path("s3://b/k").is_err());
    }
}
