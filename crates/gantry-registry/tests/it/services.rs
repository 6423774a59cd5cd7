//! The test services themselves: PostgreSQL and s3s-fs start, and every test gets an isolated
//! database and bucket that a real S3 client can use.

use gantry_test_support::services;

use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjPath;

#[test]
fn each_test_gets_its_own_database_and_bucket() {
    let svc = services::services();
    let a = svc.fresh();
    let b = svc.fresh();
    assert_ne!(a.database, b.database);
    assert_ne!(a.bucket, b.bucket);
    svc.psql(&a.database, "CREATE TABLE only_in_a (x INTEGER)");
    assert_eq!(
        svc.psql(
            &b.database,
            "SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'"
        )
        .trim(),
        "0"
    );

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let s3 = |bucket: &str| {
        AmazonS3Builder::new()
            .with_endpoint(&a.s3_endpoint)
            .with_region(services::S3_REGION)
            .with_access_key_id(services::S3_ACCESS_KEY)
            .with_secret_access_key(services::S3_SECRET_KEY)
            .with_allow_http(true)
            .with_bucket_name(bucket)
            .build()
            .unwrap()
    };
    let key = ObjPath::from("crates/ab/abc.crate");
    rt.block_on(s3(&a.bucket).put(&key, b"bytes".to_vec().into()))
        .unwrap();
    let got = rt
        .block_on(async { s3(&a.bucket).get(&key).await?.bytes().await })
        .unwrap();
    assert_eq!(&got[..], b"bytes");
    assert!(a.bucket_dir.join("crates/ab/abc.crate").is_file());
    let missing = rt.block_on(s3(&b.bucket).get(&key));
    assert!(
        matches!(missing, Err(object_store::Error::NotFound { .. })),
        "{missing:?}"
    );
    // A wrong secret is refused: the server really checks signatures.
    let bad = AmazonS3Builder::new()
        .with_endpoint(&a.s3_endpoint)
        .with_region(services::S3_REGION)
        .with_access_key_id(services::S3_ACCESS_KEY)
        .with_secret_access_key("wrong-secret-wrong-secret")
        .with_allow_http(true)
        .with_bucket_name(&a.bucket)
        .build()
        .unwrap();
    assert!(rt.block_on(bad.get(&key)).is_err());
}
