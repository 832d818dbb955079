#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lyrebird::fuzzing::rest_request(data));
