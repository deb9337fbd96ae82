use super::*;

#[test]
fn a_line_is_valid_emf_with_its_dimensions_and_values() {
    let line = Line::new(&[("endpoint", "video_init"), ("outcome", "429")])
        .count("TikTokCalls", 1)
        .value("TikTokLatency", Unit::Milliseconds, 12.5)
        .values("DispatchLag", Unit::Seconds, &[1.0, 2.0, 3.0])
        .to_json(1_700_000_000_000);
    validate(&line).unwrap();
    assert_eq!(line["_aws"]["Timestamp"], 1_700_000_000_000u64);
    let directive = &line["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(directive["Namespace"], DEFAULT_NAMESPACE);
    assert_eq!(
        directive["Dimensions"],
        serde_json::json!([["function", "endpoint", "outcome"]])
    );
    assert_eq!(
        directive["Metrics"],
        serde_json::json!([
            {"Name": "TikTokCalls", "Unit": "Count"},
            {"Name": "TikTokLatency", "Unit": "Milliseconds"},
            {"Name": "DispatchLag", "Unit": "Seconds"}
        ])
    );
    assert_eq!(line["function"], "local");
    assert_eq!(line["endpoint"], "video_init");
    assert_eq!(line["TikTokCalls"], 1.0);
    assert_eq!(line["DispatchLag"], serde_json::json!([1.0, 2.0, 3.0]));
}

#[test]
fn a_request_line_counts_by_function_status_class_and_code() {
    let line = Line::new(&[("status_class", "4xx"), ("code", "tiktok_post_limit")])
        .by(&[&[], &["status_class"], &["code"]])
        .count("Requests", 1)
        .to_json(1);
    validate(&line).unwrap();
    assert_eq!(
        line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        serde_json::json!([
            ["function"],
            ["function", "status_class"],
            ["function", "code"]
        ])
    );
}

#[test]
fn the_validator_refuses_what_cloudwatch_would_drop() {
    let good = Line::new(&[("outcome", "ok")]).count("Runs", 1).to_json(1);
    let broken = |edit: &dyn Fn(&mut Value)| {
        let mut line = good.clone();
        edit(&mut line);
        validate(&line).is_err()
    };
    assert!(broken(&|l| {
        l.as_object_mut().unwrap().remove("_aws");
    }));
    assert!(broken(&|l| l["_aws"]["Timestamp"] = "now".into()));
    assert!(broken(&|l| l["outcome"] = 3.into()));
    assert!(broken(&|l| {
        l.as_object_mut().unwrap().remove("Runs");
    }));
    assert!(broken(&|l| l["Runs"] = "one".into()));
    assert!(broken(
        &|l| l["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] = "Things".into()
    ));
    assert!(broken(
        &|l| l["_aws"]["CloudWatchMetrics"][0]["Namespace"] = "".into()
    ));
}

#[test]
fn limits_and_values_are_kept_within_emf() {
    let many: Vec<f64> = (0..150).map(f64::from).collect();
    let line = Line::new(&[("outcome", "a\nb")])
        .values("Lag", Unit::Seconds, &many)
        .to_json(1);
    validate(&line).unwrap();
    assert_eq!(line["Lag"].as_array().unwrap().len(), 100);
    assert_eq!(line["outcome"], "ab");
    let empty = Line::new(&[("outcome", "")]).count("Runs", 1).to_json(1);
    assert_eq!(empty["outcome"], "none");
}
