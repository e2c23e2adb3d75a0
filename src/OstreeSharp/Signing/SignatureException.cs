namespace OstreeSharp.Signing;

/// <summary>Why a signature check refused a commit.</summary>
public enum SignatureFailure
{
    /// <summary>Key or signature data is malformed.</summary>
    Invalid,

    /// <summary>The commit carries no signature of the required kind.</summary>
    NoSignature,

    /// <summary>No signature was made by a trusted key.</summary>
    UnknownKey,

    /// <summary>A signature by a trusted key does not match the commit.</summary>
    BadSignature,

    /// <summary>The key that signed is revoked.</summary>
    RevokedKey,

    /// <summary>The key that signed has expired.</summary>
    ExpiredKey,
}

/// <summary>Raised when signing or verification fails; <see cref="Reason"/> says why.</summary>
public sealed class SignatureException(string message, SignatureFailure reason = SignatureFailure.Invalid) : OstreeException(CodeOf(reason), message)
{
    /// <summary>Why verification failed.</summary>
    public SignatureFailure Reason { get; } = reason;

    private static OstreeErrorCode CodeOf(SignatureFailure reason) => reason switch
    {
        SignatureFailure.NoSignature => OstreeErrorCode.SignatureMissing,
        SignatureFailure.UnknownKey => OstreeErrorCode.SignatureUntrusted,
        SignatureFailure.BadSignature => OstreeErrorCode.SignatureMismatch,
        SignatureFailure.RevokedKey or SignatureFailure.ExpiredKey => OstreeErrorCode.SignatureKeyExpired,
        _ => OstreeErrorCode.SignatureInvalid,
    };
}
