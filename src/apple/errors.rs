//! Apple's error numbers for the Retention Messaging API, by name. The HTTP status is
//! the number's first three digits. Shared by the client (to name what Apple said) and
//! the simulator (to say it the same way).

use std::fmt;

macro_rules! error_codes {
    ($($name:ident = $num:literal, $msg:literal;)*) => {
        /// A known error number, or `Other` for one this table does not know (kept as is).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ApiErrorCode {
            $($name,)*
            Other(i64),
        }

        impl ApiErrorCode {
            pub fn from_number(n: i64) -> Self {
                match n {
                    $($num => Self::$name,)*
                    other => Self::Other(other),
                }
            }

            pub fn number(self) -> i64 {
                match self {
                    $(Self::$name => $num,)*
                    Self::Other(n) => n,
                }
            }

            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$name => stringify!($name),)*
                    Self::Other(_) => "UnknownError",
                }
            }

            /// The `errorMessage` Apple sends with this number.
            pub fn default_message(self) -> &'static str {
                match self {
                    $(Self::$name => $msg,)*
                    Self::Other(_) => "An unknown error occurred.",
                }
            }
        }
    };
}

// API 1.4's BadRequestTransactionId* errors (Initiate Performance Test): Apple's
// Retention Messaging pages name them without numbers. Apple's server libraries
// (app-store-server-library-python 3.1.1 `APIError`, and the Java, Node and Swift
// libraries) carry one error enum for the App Store Server API and Retention Messaging;
// these four are in it under their App Store Server API names, with the same
// descriptions: INVALID_TRANSACTION_ID 4000006, APP_TRANSACTION_ID_NOT_SUPPORTED_ERROR
// 4000048, FAMILY_TRANSACTION_NOT_SUPPORTED_ERROR 4000185,
// TRANSACTION_ID_IS_NOT_ORIGINAL_TRANSACTION_ID_ERROR 4000187. The messages are those of
// the libraries' test fixtures where they have one.
error_codes! {
    GeneralBadRequest = 4000000, "Bad request.";
    BadRequestTransactionId = 4000006, "Invalid transaction id.";
    InvalidRequestIdentifier = 4000011, "Invalid request identifier.";
    StartDateTooFarInPast = 4000012, "Invalid request. The start date is earlier than the earliest allowed date.";
    StartDateAfterEndDate = 4000013, "Invalid request. The end date precedes the start date or the dates are the same.";
    InvalidPaginationToken = 4000014, "Invalid request. The pagination token is invalid.";
    InvalidStartDate = 4000015, "Invalid request. The start date is not a timestamp value represented in milliseconds.";
    InvalidEndDate = 4000016, "Invalid request. The end date is not a timestamp value represented in milliseconds.";
    PaginationTokenExpired = 4000017, "Invalid request. The pagination token is expired.";
    BadRequestAppTransactionIdForUnsupportedEndpoint = 4000048, "Invalid request. App transactionId not supported by this endpoint.";
    InvalidProductId = 4000023, "Invalid product id.";
    InvalidImage = 4000161, "The image is invalid.";
    HeaderTooLong = 4000162, "The header text is too long.";
    BodyTooLong = 4000163, "The body text is too long.";
    InvalidLocale = 4000164, "The locale is invalid.";
    AltTextTooLong = 4000175, "The alt text is too long.";
    BadRequestTransactionIdNotSupportedForFamilySharing = 4000185, "Invalid request. Family Sharing transactions aren't supported by this endpoint.";
    BadRequestTransactionIdNotOtid = 4000187, "Invalid request. The transaction ID provided is not an original transaction ID.";
    InvalidPerformanceTestRequest = 4000211, "The performance test request is invalid.";
    InvalidRequestId = 4000212, "The request id is invalid.";
    ExistingPerformanceTestRun = 4000213, "A performance test is already running.";
    BadRequestRealtimeUrl = 4000215, "The realtime URL is invalid.";
    BadRequestImageSize = 4000216, "The image size is invalid.";
    TooManyBulletPoints = 4000218, "There are too many bullet points.";
    BulletPointTextTooLong = 4000219, "The bullet point text is too long.";
    AboveImageRequiresAnImage = 4000224, "The header position ABOVE_IMAGE requires an image.";
    MaximumNumberOfImagesReached = 4030014, "The maximum number of images has been reached.";
    MaximumNumberOfMessagesReached = 4030016, "The maximum number of messages has been reached.";
    MessageNotApproved = 4030017, "The message is not approved.";
    ImageNotApproved = 4030018, "The image is not approved.";
    ImageInUse = 4030019, "The image is in use by a message.";
    ForbiddenNoPassingTest = 4030026, "The realtime URL has no passing performance test.";
    ImageNotFound = 4040014, "The image was not found.";
    MessageNotFound = 4040015, "The message was not found.";
    PerformanceTestRunNotFound = 4040018, "The performance test run was not found.";
    DefaultMessageNotFound = 4040020, "The default message was not found.";
    RealtimeUrlNotFound = 4040021, "The realtime URL was not found.";
    ImageAlreadyExists = 4090000, "An image with this identifier already exists.";
    MessageAlreadyExists = 4090001, "A message with this identifier already exists.";
    RateLimitExceeded = 4290000, "Rate limit exceeded.";
    GeneralInternal = 5000000, "An unknown error occurred.";
    GeneralInternalRetryable = 5000001, "An unknown error occurred. Please try again.";
}

impl ApiErrorCode {
    /// The HTTP status Apple answers with: the number's first three digits.
    pub fn http_status(self) -> u16 {
        let n = self.number();
        if (1_000_000..10_000_000).contains(&n) {
            (n / 10_000) as u16
        } else {
            500
        }
    }

    /// What a user can do about it.
    pub fn hint(self) -> Option<&'static str> {
        Some(match self {
            Self::MessageNotApproved | Self::ImageNotApproved => {
                "wait for Apple's review to approve the content; apply sets the default on a later run"
            }
            Self::ImageInUse => "delete the messages that use the image first",
            Self::ForbiddenNoPassingTest => {
                "run a performance test against the realtime URL and let it pass before configuring it in production"
            }
            Self::MaximumNumberOfMessagesReached | Self::MaximumNumberOfImagesReached => {
                "Apple keeps at most 2,000 per app: run apply with --prune to delete what git no longer names"
            }
            Self::InvalidLocale => {
                "use one of the App Store's locale short codes, such as en-US, de-DE, ja or zh-Hans"
            }
            Self::BadRequestTransactionId => {
                "give the original transaction id of an active auto-renewable subscription bought in sandbox"
            }
            Self::BadRequestAppTransactionIdForUnsupportedEndpoint => {
                "give a transaction id, not an app transaction id: the performance test does not take one"
            }
            Self::BadRequestTransactionIdNotSupportedForFamilySharing => {
                "give the transaction of a subscription the sandbox account bought itself, not one shared through Family Sharing"
            }
            Self::BadRequestTransactionIdNotOtid => {
                "give the original transaction id (originalTransactionId), not the id of a renewal"
            }
            Self::InvalidProductId => "check the product id in App Store Connect",
            Self::RateLimitExceeded => "Apple's hourly request budget is used up; retry later",
            Self::GeneralInternal | Self::GeneralInternalRetryable => {
                "Apple had an internal error; re-run apply, it continues where it stopped"
            }
            _ => return None,
        })
    }
}

impl fmt::Display for ApiErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.number())
    }
}

/// On the wire of our own documents (plans, reports), an error code is Apple's number.
impl serde::Serialize for ApiErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(self.number())
    }
}

impl<'de> serde::Deserialize<'de> for ApiErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        i64::deserialize(deserializer).map(ApiErrorCode::from_number)
    }
}

#[cfg(test)]
mod tests {
    use super::ApiErrorCode;

    #[test]
    fn numbers_round_trip_and_give_statuses() {
        for (n, name, status) in [
            (4090001, "MessageAlreadyExists", 409),
            (4040020, "DefaultMessageNotFound", 404),
            (4030026, "ForbiddenNoPassingTest", 403),
            (4000224, "AboveImageRequiresAnImage", 400),
            (4290000, "RateLimitExceeded", 429),
            (5000001, "GeneralInternalRetryable", 500),
            (4000006, "BadRequestTransactionId", 400),
            (
                4000048,
                "BadRequestAppTransactionIdForUnsupportedEndpoint",
                400,
            ),
            (
                4000185,
                "BadRequestTransactionIdNotSupportedForFamilySharing",
                400,
            ),
            (4000187, "BadRequestTransactionIdNotOtid", 400),
        ] {
            let code = ApiErrorCode::from_number(n);
            assert_eq!(code.name(), name);
            assert_eq!(code.number(), n);
            assert_eq!(code.http_status(), status);
        }
        assert_eq!(
            ApiErrorCode::from_number(4001234),
            ApiErrorCode::Other(4001234)
        );
        assert_eq!(ApiErrorCode::Other(4001234).number(), 4001234);
    }

    /// Which errors are retried is the endpoint table's (`endpoints::RETRY`).
    #[test]
    fn the_transaction_id_errors_have_hints() {
        for n in [4000006, 4000048, 4000185, 4000187] {
            assert!(ApiErrorCode::from_number(n).hint().is_some(), "{n}");
        }
    }
}
