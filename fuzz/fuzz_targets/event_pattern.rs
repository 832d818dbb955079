#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lyrebird::fuzzing::event_pattern(data));
