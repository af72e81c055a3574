/**
 * Python shared by the AWS first-boot programs (`ssm-fetch.ts`, `files-fetch.ts`): the region
 * from `AWS_REGION` / `AWS_DEFAULT_REGION`, else from the instance metadata service (IMDSv2: a
 * session token first). The program defines `IMDS` and imports `os` and `urllib.request`.
 */
export const PY_REGION_FUNCTION = String.raw`def region():
    configured = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if configured:
        return configured
    put = urllib.request.Request(
        IMDS + "/api/token", method="PUT", headers={"X-aws-ec2-metadata-token-ttl-seconds": "300"}
    )
    token = urllib.request.urlopen(put, timeout=5).read().decode()
    get = urllib.request.Request(IMDS + "/meta-data/placement/region", headers={"X-aws-ec2-metadata-token": token})
    return urllib.request.urlopen(get, timeout=5).read().decode().strip()
`;
